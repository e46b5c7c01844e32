//! The audit log a sentinel writes to: the chain head plus, when configured,
//! the durable store. Entries that could not be written (disk full, file
//! locked) wait in a bounded queue and go out with the next write, so a
//! transient failure leaves no hole in the stored chain.

use super::chain::{AuditEntry, Chain, NewEntry};
use super::store::{AuditStore, StoreConfig};
use super::AuditError;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Entries kept for a later write while the store fails; beyond this the
/// oldest are dropped (and the stored chain will show the gap).
const MAX_PENDING: usize = 10_000;
/// Retention runs at most this often while writing.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Chain head, optional store, and entries waiting to be stored.
pub struct AuditLog {
    chain: Chain,
    store: Option<AuditStore>,
    pending: VecDeque<AuditEntry>,
    last_prune: Option<Instant>,
    dropped: u64,
}

/// What one append did with the store.
#[derive(Debug)]
pub struct AppendOutcome {
    /// The chained entries, in order.
    pub entries: Vec<AuditEntry>,
    /// The store error, if writing failed (the entries are queued).
    pub store_error: Option<AuditError>,
}

fn now_unix_nano() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl AuditLog {
    /// A chain kept in memory only (no store configured): it starts at
    /// genesis on each run.
    pub fn in_memory() -> AuditLog {
        AuditLog {
            chain: Chain::genesis(),
            store: None,
            pending: VecDeque::new(),
            last_prune: None,
            dropped: 0,
        }
    }

    /// Opens the store, applies retention, and continues its chain.
    pub fn open(config: &StoreConfig) -> Result<AuditLog, AuditError> {
        let mut store = AuditStore::open(config)?;
        store.prune(now_unix_nano())?;
        let chain = store.head()?;
        Ok(AuditLog {
            chain,
            store: Some(store),
            pending: VecDeque::new(),
            last_prune: Some(Instant::now()),
            dropped: 0,
        })
    }

    /// The chain head.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Entries waiting to be written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Entries dropped because the queue of unwritten entries was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Chains `entries` and writes them (with any earlier unwritten ones) to
    /// the store in one transaction.
    pub fn append(&mut self, entries: Vec<NewEntry>) -> AppendOutcome {
        let chained: Vec<AuditEntry> = entries.into_iter().map(|e| self.chain.append(e)).collect();
        let Some(store) = self.store.as_mut() else {
            return AppendOutcome {
                entries: chained,
                store_error: None,
            };
        };
        self.pending.extend(chained.iter().cloned());
        while self.pending.len() > MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        let batch: Vec<AuditEntry> = self.pending.iter().cloned().collect();
        let mut store_error = match store.insert(&batch) {
            Ok(()) => {
                self.pending.clear();
                None
            }
            Err(e) => Some(e),
        };
        if store_error.is_none()
            && self
                .last_prune
                .is_none_or(|t| t.elapsed() >= PRUNE_INTERVAL)
        {
            self.last_prune = Some(Instant::now());
            if let Err(e) = store.prune(now_unix_nano()) {
                store_error = Some(e);
            }
        }
        AppendOutcome {
            entries: chained,
            store_error,
        }
    }
}
