//! Audit entries and the hash chain (the encoding is in the module doc of
//! [`crate::audit`]).

use oispd_semconv::Severity;
use sha2::{Digest, Sha256};

/// The `previous_hash` of the first entry of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separator at the start of every hashed entry.
const DOMAIN: &[u8] = b"oispd-audit-v1\n";

/// A finding about to be chained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Detection time, nanoseconds since the Unix epoch.
    pub ts_unix_nano: i64,
    /// The finding's id (its OISP event id).
    pub finding_id: String,
    /// Detector id (`SEC-02`).
    pub detector: String,
    /// Severity.
    pub severity: Severity,
    /// Event id of the triggering event (empty if unknown).
    pub trigger_event_id: String,
    /// One-line summary.
    pub summary: String,
    /// The finding's `data` as compact JSON (without its audit link).
    pub finding: String,
}

/// A chained entry: the finding, its place and its hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1, contiguous.
    pub id: u64,
    /// The finding.
    pub entry: NewEntry,
    /// Hash of the previous entry ([`GENESIS_HASH`] for the first).
    pub previous_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update(bytes.len().to_string().as_bytes());
    h.update(b":");
    h.update(bytes);
    h.update(b"\n");
}

/// The hash of an entry with id `id` after `previous_hash`.
pub fn entry_hash(previous_hash: &str, id: u64, e: &NewEntry) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    field(&mut h, previous_hash.as_bytes());
    field(&mut h, id.to_string().as_bytes());
    field(&mut h, e.ts_unix_nano.to_string().as_bytes());
    field(&mut h, e.finding_id.as_bytes());
    field(&mut h, e.detector.as_bytes());
    field(&mut h, e.severity.as_str().as_bytes());
    field(&mut h, e.trigger_event_id.as_bytes());
    field(&mut h, e.summary.as_bytes());
    field(&mut h, e.finding.as_bytes());
    hex::encode(h.finalize())
}

/// The head of a chain: the last id and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    last_id: u64,
    last_hash: String,
}

impl Chain {
    /// An empty chain.
    pub fn genesis() -> Chain {
        Chain {
            last_id: 0,
            last_hash: GENESIS_HASH.to_string(),
        }
    }

    /// A chain continuing after entry `last_id` whose hash is `last_hash`.
    pub fn resume(last_id: u64, last_hash: String) -> Chain {
        Chain { last_id, last_hash }
    }

    /// Id of the last entry (0 when empty).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// Hash of the last entry ([`GENESIS_HASH`] when empty).
    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    /// Chains `entry` after the head and returns it with id and hashes.
    pub fn append(&mut self, entry: NewEntry) -> AuditEntry {
        let id = self.last_id + 1;
        let previous_hash = std::mem::take(&mut self.last_hash);
        let hash = entry_hash(&previous_hash, id, &entry);
        self.last_id = id;
        self.last_hash = hash.clone();
        AuditEntry {
            id,
            entry,
            previous_hash,
            hash,
        }
    }
}
