//! The sentinel's audit trail: every finding is an entry of a SHA-256 hash
//! chain, kept in a durable SQLite store and checked by `oispd audit verify`.
//!
//! # Canonical encoding
//!
//! The hash of entry `n` is the lower-case hex SHA-256 of these bytes:
//!
//! ```text
//! "oispd-audit-v1\n"
//! field(previous_hash)      hash of entry n-1 (64 hex digits), or 64 "0" for the first entry
//! field(id)                 n in decimal ASCII (ids start at 1 and are contiguous)
//! field(ts_unix_nano)       detection time, nanoseconds since the Unix epoch, decimal ASCII
//! field(finding_id)         the finding's id (its OISP event id, a ULID)
//! field(detector)           detector id, e.g. "SEC-02"
//! field(severity)           "none" | "low" | "medium" | "high" | "critical"
//! field(trigger_event_id)   event_id of the event that triggered the finding ("" if none)
//! field(summary)            one-line summary, UTF-8
//! field(finding)            the finding's `data` as compact JSON, stored byte for byte
//!
//! field(x) = decimal byte length of x, ":", the UTF-8 bytes of x, "\n"
//! ```
//!
//! Length prefixes make the encoding unambiguous whatever the fields hold;
//! the JSON is hashed as stored, so verification needs no JSON
//! canonicalisation. The chain continues across restarts: the store's last
//! entry (or its retention anchor) is the head at start.
//!
//! What the chain proves: an entry changed, removed, inserted or moved
//! without recomputing every later hash is found by [`verify()`]. Someone who
//! can rewrite the whole file can also recompute the chain; the copies of
//! `ai.sentinel.audit.hash` already shipped to a SIEM are the external
//! witness for that, and so is removing the newest entries (which no chain
//! can show by itself).

mod chain;
mod log;
mod query;
mod store;
mod verify;

#[cfg(test)]
mod tests;

pub use chain::{entry_hash, AuditEntry, Chain, NewEntry, GENESIS_HASH};
pub use log::{AppendOutcome, AuditLog};
pub use query::{parse_time, query, QueryFilter};
pub use store::{AuditStore, StoreConfig, DEFAULT_MAX_AGE, DEFAULT_MAX_ROWS};
pub use verify::{verify, BreakReason, VerifyError, VerifyReport};

/// A problem with the audit store.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// SQLite failed.
    #[error("audit store {path}: {source}")]
    Sqlite {
        /// The store file.
        path: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not an oispd audit store, or of an unknown format.
    #[error("audit store {path}: {message}")]
    Format {
        /// The store file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A time argument could not be parsed.
    #[error("{0}")]
    Time(String),
}
