//! The persistent sending queue (`sending_queue.storage`): batches accepted
//! by an exporter are on disk before the pipeline goes on, and leave the
//! disk only once the exporter succeeded or failed for good. After a restart
//! (a clean one, a crash, `kill -9`) whatever was not settled is delivered
//! again: at-least-once delivery. The batch in flight at the moment of a
//! crash may therefore arrive twice.
//!
//! Written here rather than taken from a crate: the queue's contract
//! (settle out of order, evict the oldest waiting batch by bytes and count
//! it, keep batches in retry, recover from a torn write) is the product,
//! and the embedded stores on crates.io would each need the same bookkeeping
//! on top.
//!
//! Layout, one directory per exporter (`<storage>/<escaped exporter id>`):
//! append-only segment files of CRC-checked records ([`record`],
//! [`segments`]), the settled set ([`settled`], file `acked`) and a `lock`
//! file held with an exclusive lock while the queue is open, so two oispd
//! processes never share a queue.
//!
//! Modes: batches hold prompts and responses. The exporter's directory is
//! 0700 and every file in it 0600, set when created ([`private_fs`]); the
//! `storage` directory is created 0700 if missing (an existing one is the
//! user's and left alone). A directory or files left with looser modes by
//! an older version are tightened when the queue is opened.
//!
//! Durability: every record is written and `fdatasync`ed before
//! [`PersistentQueue::push`] returns (so before `consume` returns), which
//! survives a power loss, not only a crash; producers fsync in parallel,
//! outside the queue's lock. New segment files and their directory entry
//! are synced when created. The settled set is rewritten after every
//! settlement but not synced (see [`settled`]).
//!
//! Limits: `max_storage_bytes` bounds the bytes of unsettled records
//! (waiting and in flight). When a new batch would pass it, the oldest
//! *waiting* batches are dropped and counted
//! (`otelcol_exporter_queue_dropped_*`), or with `block_on_overflow` the
//! producer waits; a batch whose sender waits for the answer (OTLP) is
//! refused instead of evicting records already acknowledged to others. Batches handed to the exporter (in flight, in retry)
//! are never evicted, so the limit can be passed by what is in flight. A
//! batch larger than the whole limit is refused. Files take somewhat more
//! than the limit: a segment is deleted only once all its records are
//! settled, segments are `max_storage_bytes / 16` (64 KiB to 16 MiB).
//!
//! Metrics: `otelcol_exporter_queue_size{data_type}` is the bytes of
//! unsettled records of that signal and `otelcol_exporter_queue_capacity`
//! is `max_storage_bytes`: a persistent queue is sized in bytes, as the
//! collector's queue with `sizer: bytes`; `oispd_exporter_queue_size_records`
//! counts the records.

mod record;
mod recovery;
mod segments;
mod settled;

#[cfg(test)]
mod tests;

use super::completion::{Completion, Settled as Outcome};
use super::log_limit::{LogLimiter, WARN_INTERVAL};
use super::metrics::SignalMetrics;
use super::queue::Item;
use oispd_component::{private_fs, Batch, Signal};
use record::Frame;
use settled::Settled;
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, TryLockError};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Smallest and largest segment file size.
const SEGMENT_BYTES: (u64, u64) = (64 * 1024, 16 * 1024 * 1024);
/// Longest directory name kept as is; longer ids are cut and hashed.
const MAX_DIR_NAME: usize = 200;

/// Why the queue could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// A file operation failed.
    #[error("sending_queue.storage: cannot {what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// Another process (or exporter instance) holds the directory.
    #[error("sending_queue.storage: {} is in use by another oispd process", .0.display())]
    Locked(PathBuf),
    /// A segment file is not in the queue's format.
    #[error("sending_queue.storage: {}: {source}", path.display())]
    Segment {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: segments::ScanError,
    },
}

/// Why a push failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PushError {
    /// The worker is gone; nothing will be exported any more.
    #[error("the exporter stopped")]
    WorkerGone,
    /// The batch alone is larger than the queue's byte limit.
    #[error("batch of {bytes} bytes is larger than sending_queue.max_storage_bytes ({limit})")]
    TooLarge {
        /// The batch's size on disk.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// Writing or syncing the record failed (disk full, I/O error).
    #[error("cannot write to the persistent queue: {0}")]
    Io(String),
    /// The byte limit is reached and the batch was refused.
    #[error("sending queue is full")]
    Full,
}

/// What a push does when the byte limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Drop the oldest waiting batches, counted.
    EvictOldest,
    /// Wait until settlements make room.
    Wait,
    /// Refuse the new batch (its sender can send it again).
    Refuse,
}

/// Where one unsettled record lives.
#[derive(Clone, Copy, Debug)]
struct Entry {
    seq: u64,
    /// First sequence number of its segment (the segment's name).
    segment: u64,
    offset: u64,
    len: u64,
    signal: Signal,
    records: u32,
}

/// The segment new records go to.
struct Active {
    first_seq: u64,
    file: Arc<File>,
    len: u64,
}

struct State {
    /// Not yet handed to the worker, oldest first.
    waiting: VecDeque<Entry>,
    /// Handed to the worker, not yet settled.
    in_flight: BTreeMap<u64, Entry>,
    settled: Settled,
    /// Unsettled records per segment, by the segment's first sequence.
    segments: BTreeMap<u64, usize>,
    active: Active,
    next_seq: u64,
    /// Bytes of unsettled records.
    live_bytes: u64,
    producers_closed: bool,
    worker_gone: bool,
    warn: LogLimiter,
}

/// What an append did.
enum Appended {
    /// The record is written (not yet synced) to `file`.
    Written(Arc<File>),
    /// No room and the producer waits instead of evicting.
    NoRoom,
}

/// An exporter's persistent queue; one producer side (any number of
/// pipelines) and one consumer (the exporter's worker).
pub(crate) struct PersistentQueue {
    id: String,
    dir: PathBuf,
    limit: u64,
    segment_bytes: u64,
    state: Mutex<State>,
    /// The worker's read handle on the segment it reads from.
    reader: Mutex<Option<(u64, File)>>,
    not_empty: Notify,
    not_full: Notify,
    metrics: SignalMetrics,
    /// Held locked while open.
    _lock: File,
}

/// The directory of exporter `id` under `root`: every byte outside
/// `[A-Za-z0-9_-]` percent-escaped (`otlp_grpc/siem` -> `otlp_grpc%2Fsiem`),
/// so distinct ids never share a directory and no id escapes `root`.
pub(crate) fn exporter_dir(root: &Path, id: &str) -> PathBuf {
    let (name, cut) = escape(id, MAX_DIR_NAME);
    if !cut {
        return root.join(name);
    }
    // Too long for a file name: a prefix plus a hash of the whole id.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    let (prefix, _) = escape(id, MAX_DIR_NAME - 17);
    root.join(format!("{prefix}-{}", hex::encode(&digest[..8])))
}

/// `id` escaped, cut before the piece that would pass `budget` bytes;
/// the flag says whether it was cut.
fn escape(id: &str, budget: usize) -> (String, bool) {
    let mut name = String::with_capacity(id.len().min(budget));
    for b in id.bytes() {
        let piece = if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            char::from(b).to_string()
        } else {
            format!("%{b:02X}")
        };
        if name.len() + piece.len() > budget {
            return (name, true);
        }
        name.push_str(&piece);
    }
    (name, false)
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> OpenError {
    let what = what.into();
    move |source| OpenError::Io { what, source }
}

impl PersistentQueue {
    /// Opens (creating if needed) the queue of exporter `id` under `root`
    /// and recovers what a previous run left: records not settled wait to
    /// be exported again; a torn last record is cut off. Blocking.
    pub(crate) fn open(
        root: &Path,
        id: &str,
        limit: u64,
        metrics: SignalMetrics,
    ) -> Result<PersistentQueue, OpenError> {
        let dir = exporter_dir(root, id);
        private_fs::create_dir_all(root).map_err(io(format!("create {}", root.display())))?;
        private_fs::own_dir(&dir).map_err(io(format!("create {}", dir.display())))?;
        let lock_path = dir.join("lock");
        let lock = private_fs::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("open {}", lock_path.display())))?;
        private_fs::tighten_open(&lock, &lock_path)
            .map_err(io(format!("tighten {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(OpenError::Locked(dir)),
            Err(TryLockError::Error(e)) => {
                return Err(io(format!("lock {}", lock_path.display()))(e))
            }
        }
        let previous = match Settled::load(&dir) {
            Ok(Some(s)) => s,
            Ok(None) => {
                if dir.join(settled::FILE_NAME).exists() {
                    tracing::warn!(
                        exporter = %id,
                        dir = %dir.display(),
                        "persistent queue: the acknowledgement file is damaged; every stored batch will be delivered again"
                    );
                }
                Settled::default()
            }
            Err(e) => {
                return Err(io(format!(
                    "read {}",
                    dir.join(settled::FILE_NAME).display()
                ))(e))
            }
        };
        let recovered = recovery::recover(&dir, id, &previous)?;
        let active = segments::create(&dir, recovered.next_seq).map_err(io(format!(
            "create {}",
            segments::path(&dir, recovered.next_seq).display()
        )))?;
        let mut segment_live = recovered.segments;
        segment_live.insert(recovered.next_seq, 0);
        let live_bytes = recovered.waiting.iter().map(|e| e.len).sum();
        for e in &recovered.waiting {
            metrics.queue_moved(e.signal, gauge(e.len), i64::from(e.records));
        }
        if !recovered.waiting.is_empty() {
            let records: u64 = recovered.waiting.iter().map(|e| u64::from(e.records)).sum();
            tracing::info!(
                exporter = %id,
                dir = %dir.display(),
                batches = recovered.waiting.len(),
                records,
                bytes = live_bytes,
                "persistent queue: delivering what a previous run left"
            );
        }
        let segment_bytes = (limit / 16).clamp(SEGMENT_BYTES.0, SEGMENT_BYTES.1);
        let state = State {
            waiting: recovered.waiting,
            in_flight: BTreeMap::new(),
            settled: recovered.settled,
            segments: segment_live,
            active: Active {
                first_seq: recovered.next_seq,
                file: Arc::new(active),
                len: record::SEGMENT_MAGIC.len() as u64,
            },
            next_seq: recovered.next_seq,
            live_bytes,
            producers_closed: false,
            worker_gone: false,
            warn: LogLimiter::new(WARN_INTERVAL),
        };
        Ok(PersistentQueue {
            id: id.to_string(),
            dir,
            limit,
            segment_bytes,
            state: Mutex::new(state),
            reader: Mutex::new(None),
            not_empty: Notify::new(),
            not_full: Notify::new(),
            metrics,
            _lock: lock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before it can panic, so
        // a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory holding this exporter's queue.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `batch` durably; `overflow` says what happens when the byte
    /// limit is reached.
    pub(crate) async fn push(
        self: &Arc<Self>,
        batch: Batch,
        overflow: Overflow,
    ) -> Result<(), PushError> {
        let frame = Frame::encode(batch);
        if frame.len() > self.limit {
            return Err(PushError::TooLarge {
                bytes: frame.len(),
                limit: self.limit,
            });
        }
        let mut frame = frame;
        loop {
            let notified = self.not_full.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let queue = self.clone();
            let (appended, back) = tokio::task::spawn_blocking(move || {
                let appended = queue.append(&mut frame, overflow);
                (appended, frame)
            })
            .await
            .map_err(|e| PushError::Io(e.to_string()))?;
            frame = back;
            match appended? {
                Appended::Written(file) => {
                    self.not_empty.notify_one();
                    let synced = tokio::task::spawn_blocking(move || file.sync_data()).await;
                    return match synced {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(PushError::Io(e.to_string())),
                        Err(e) => Err(PushError::Io(e.to_string())),
                    };
                }
                Appended::NoRoom => notified.await,
            }
        }
    }

    /// Appends one record under the lock; when the limit would be passed,
    /// first evicts the oldest waiting records, or answers that there is
    /// no room, as `overflow` says. Blocking.
    fn append(&self, frame: &mut Frame, overflow: Overflow) -> Result<Appended, PushError> {
        let len = frame.len();
        let mut st = self.lock();
        if st.worker_gone {
            return Err(PushError::WorkerGone);
        }
        let mut evicted = false;
        while st.live_bytes + len > self.limit {
            if overflow != Overflow::EvictOldest {
                if st.live_bytes == 0 {
                    break;
                }
                return match overflow {
                    Overflow::Refuse => Err(PushError::Full),
                    _ => Ok(Appended::NoRoom),
                };
            }
            // What is in flight stays; the limit is passed by it alone.
            let Some(oldest) = st.waiting.pop_front() else {
                break;
            };
            self.metrics
                .of(oldest.signal)
                .dropped
                .inc_by(u64::from(oldest.records));
            self.release(&mut st, oldest);
            evicted = true;
        }
        if st.active.len >= self.segment_bytes {
            if let Err(e) = self.rotate(&mut st) {
                if evicted {
                    self.store_settled(&mut st);
                }
                return Err(PushError::Io(e.to_string()));
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let bytes = frame.seal(seq);
        let offset = st.active.len;
        if let Err(e) = (&*st.active.file).write_all(bytes) {
            // Cut back a partial write so the segment stays readable, and
            // settle the sequence so the settled set has no hole.
            let _ = st.active.file.set_len(offset);
            st.settled.insert(seq);
            self.store_settled(&mut st);
            return Err(PushError::Io(e.to_string()));
        }
        let entry = Entry {
            seq,
            segment: st.active.first_seq,
            offset,
            len,
            signal: frame.signal(),
            records: frame.records(),
        };
        st.active.len += len;
        *st.segments.entry(entry.segment).or_insert(0) += 1;
        st.live_bytes += len;
        self.metrics
            .queue_moved(entry.signal, gauge(len), i64::from(entry.records));
        st.waiting.push_back(entry);
        if evicted {
            self.store_settled(&mut st);
        }
        Ok(Appended::Written(st.active.file.clone()))
    }

    /// Starts a new active segment; the old one goes once it is settled.
    fn rotate(&self, st: &mut State) -> std::io::Result<()> {
        let file = segments::create(&self.dir, st.next_seq)?;
        let old = std::mem::replace(
            &mut st.active,
            Active {
                first_seq: st.next_seq,
                file: Arc::new(file),
                len: record::SEGMENT_MAGIC.len() as u64,
            },
        );
        st.segments.insert(st.next_seq, 0);
        self.delete_if_settled(st, old.first_seq);
        Ok(())
    }

    /// Marks `entry` settled and accounts for it (bytes, gauge, segment).
    fn release(&self, st: &mut State, entry: Entry) {
        st.settled.insert(entry.seq);
        st.live_bytes = st.live_bytes.saturating_sub(entry.len);
        self.metrics
            .queue_moved(entry.signal, -gauge(entry.len), -i64::from(entry.records));
        if let Some(live) = st.segments.get_mut(&entry.segment) {
            *live = live.saturating_sub(1);
        }
        self.delete_if_settled(st, entry.segment);
    }

    /// Deletes segment `first_seq` if no record in it is unsettled and it
    /// is not the active one.
    fn delete_if_settled(&self, st: &mut State, first_seq: u64) {
        if first_seq == st.active.first_seq || st.segments.get(&first_seq) != Some(&0) {
            return;
        }
        st.segments.remove(&first_seq);
        let path = segments::path(&self.dir, first_seq);
        if let Err(e) = std::fs::remove_file(&path) {
            if let Some(suppressed) = st.warn.allow() {
                tracing::warn!(
                    exporter = %self.id,
                    path = %path.display(),
                    error = %e,
                    suppressed,
                    "persistent queue: cannot delete a settled segment"
                );
            }
        }
    }

    /// Rewrites the settled set; a failure is logged (batches would be
    /// delivered again after a restart, never lost).
    fn store_settled(&self, st: &mut State) {
        if let Err(e) = st.settled.store(&self.dir) {
            if let Some(suppressed) = st.warn.allow() {
                tracing::warn!(
                    exporter = %self.id,
                    dir = %self.dir.display(),
                    error = %e,
                    suppressed,
                    "persistent queue: cannot record acknowledgements; exported batches may be delivered again after a restart"
                );
            }
        }
    }

    /// Takes the oldest waiting batch, waiting while there is none. `None`
    /// once the producers are closed and nothing waits. Cancel safe: a
    /// batch leaves the waiting list only when it is returned.
    pub(crate) async fn pop(self: &Arc<Self>) -> Option<Item> {
        loop {
            let notified = self.not_empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next = {
                let st = self.lock();
                match st.waiting.front() {
                    Some(entry) => Some(*entry),
                    None if st.producers_closed => return None,
                    None => None,
                }
            };
            let Some(entry) = next else {
                notified.await;
                continue;
            };
            let queue = self.clone();
            let read = tokio::task::spawn_blocking(move || queue.read(&entry))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let mut st = self.lock();
            if st.waiting.front().map(|e| e.seq) != Some(entry.seq) {
                // Evicted while it was read.
                continue;
            }
            let Some(entry) = st.waiting.pop_front() else {
                continue;
            };
            match read {
                Ok(batch) => {
                    st.in_flight.insert(entry.seq, entry);
                    drop(st);
                    let queue = self.clone();
                    let seq = entry.seq;
                    let completion = Completion::new(move |outcome| queue.settle(seq, outcome));
                    return Some(Item {
                        batch,
                        completion: Some(completion),
                    });
                }
                Err(message) => {
                    self.metrics
                        .of(entry.signal)
                        .dropped
                        .inc_by(u64::from(entry.records));
                    self.release(&mut st, entry);
                    self.store_settled(&mut st);
                    if let Some(suppressed) = st.warn.allow() {
                        tracing::error!(
                            exporter = %self.id,
                            seq = entry.seq,
                            records = entry.records,
                            error = %message,
                            suppressed,
                            "persistent queue: a stored batch cannot be read; dropped"
                        );
                    }
                    drop(st);
                    self.not_full.notify_waiters();
                }
            }
        }
    }

    /// Reads and checks one record from its segment. Blocking.
    fn read(&self, entry: &Entry) -> Result<Batch, String> {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if reader.as_ref().map(|(seg, _)| *seg) != Some(entry.segment) {
            let path = segments::path(&self.dir, entry.segment);
            let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            *reader = Some((entry.segment, file));
        }
        let Some((_, file)) = reader.as_ref() else {
            return Err("no segment open".into());
        };
        let len = usize::try_from(entry.len).map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, entry.offset)
            .map_err(|e| e.to_string())?;
        let (meta, batch) = record::decode(&buf).map_err(|e| e.to_string())?;
        if meta.seq != entry.seq {
            return Err(format!(
                "found record {} where {} was written",
                meta.seq, entry.seq
            ));
        }
        Ok(batch)
    }

    /// The worker's verdict on record `seq`: exported or failed for good
    /// removes it; abandoned leaves it on disk for the next start.
    fn settle(&self, seq: u64, outcome: Outcome) {
        if outcome == Outcome::Abandoned {
            return;
        }
        let mut st = self.lock();
        let Some(entry) = st.in_flight.remove(&seq) else {
            return;
        };
        self.release(&mut st, entry);
        self.store_settled(&mut st);
        drop(st);
        self.not_full.notify_waiters();
    }

    /// True when no batch waits (in-flight ones do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().waiting.is_empty()
    }

    /// No more pushes will come; the worker drains what waits and ends.
    pub(crate) fn close(&self) {
        self.lock().producers_closed = true;
        self.not_empty.notify_one();
    }

    /// The worker ended: later pushes fail, waiting producers are released.
    /// What is stored stays for the next start.
    pub(crate) fn worker_gone(&self) {
        self.lock().worker_gone = true;
        self.not_full.notify_waiters();
    }
}

fn gauge(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
