//! Opening a persistent queue after a previous run: every segment is
//! scanned, records not settled wait again in order, a torn tail of the last
//! segment (a write cut short by a crash) is cut off, segments with nothing
//! left to deliver are deleted, and the settled set is rebuilt from what is
//! actually on disk (sequence numbers lost to damage become settled gaps).

use super::settled::{self, Settled};
use super::{io, segments, Entry, OpenError};
use oispd_component::private_fs;
use std::collections::{BTreeMap, VecDeque};
use std::fs::OpenOptions;
use std::path::Path;

/// What a previous run left.
pub(super) struct Recovered {
    /// Unsettled records, oldest first.
    pub(super) waiting: VecDeque<Entry>,
    /// Unsettled records per kept segment.
    pub(super) segments: BTreeMap<u64, usize>,
    /// The settled set matching what is on disk.
    pub(super) settled: Settled,
    /// The sequence number of the next record.
    pub(super) next_seq: u64,
}

/// Scans every segment: unsettled records wait again, a torn tail of the
/// last segment is cut off, fully settled segments are deleted, and the
/// settled set is rebuilt from what is actually on disk.
pub(super) fn recover(dir: &Path, id: &str, previous: &Settled) -> Result<Recovered, OpenError> {
    let found = segments::list(dir).map_err(io(format!("list {}", dir.display())))?;
    // Files an older version wrote readable by every user.
    let acked = dir.join(settled::FILE_NAME);
    let files = found.iter().map(|(_, p)| p.as_path());
    private_fs::tighten_all(files.chain([acked.as_path()]), "persistent queue files")
        .map_err(io(format!("tighten {}", dir.display())))?;
    let mut waiting = VecDeque::new();
    let mut live_per_segment = BTreeMap::new();
    let mut next_seq = previous.end();
    let last = found.len().saturating_sub(1);
    for (i, (first, path)) in found.iter().enumerate() {
        let scan = segments::scan(path).map_err(|source| OpenError::Segment {
            path: path.clone(),
            source,
        })?;
        if let segments::Tail::Damaged {
            offset,
            bytes,
            reason,
        } = &scan.tail
        {
            if i == last {
                tracing::warn!(
                    exporter = %id,
                    path = %path.display(),
                    offset,
                    bytes,
                    reason = %reason,
                    "persistent queue: dropping a torn record at the end of the queue (a write cut short by a crash)"
                );
                let cut = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|f| f.set_len(*offset));
                cut.map_err(io(format!("truncate {}", path.display())))?;
            } else {
                tracing::error!(
                    exporter = %id,
                    path = %path.display(),
                    offset,
                    bytes,
                    reason = %reason,
                    "persistent queue: damaged record; the rest of this segment is skipped"
                );
            }
        }
        let mut live = 0;
        for rec in &scan.records {
            next_seq = next_seq.max(rec.meta.seq + 1);
            if previous.contains(rec.meta.seq) {
                continue;
            }
            waiting.push_back(Entry {
                seq: rec.meta.seq,
                segment: *first,
                offset: rec.offset,
                len: rec.len,
                signal: rec.meta.signal,
                records: rec.meta.records,
            });
            live += 1;
        }
        if live == 0 {
            std::fs::remove_file(path).map_err(io(format!("delete {}", path.display())))?;
        } else {
            live_per_segment.insert(*first, live);
        }
    }
    // Settled: everything below the first waiting record and every gap
    // between waiting records (sequences lost to damage included).
    let floor = waiting.front().map_or(next_seq, |e: &Entry| e.seq);
    let mut gaps = Vec::new();
    let mut expected = floor;
    for e in &waiting {
        if e.seq > expected {
            gaps.push((expected, e.seq));
        }
        expected = e.seq + 1;
    }
    if expected < next_seq {
        gaps.push((expected, next_seq));
    }
    let settled = Settled::from_parts(floor, gaps);
    settled.store(dir).map_err(io(format!(
        "write {}",
        dir.join(settled::FILE_NAME).display()
    )))?;
    Ok(Recovered {
        waiting,
        segments: live_per_segment,
        settled,
        next_seq,
    })
}
