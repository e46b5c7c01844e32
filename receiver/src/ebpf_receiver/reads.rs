//! Merges a process's `read(2)` calls on one open file into one
//! `file.read`: the kernel reports every read of a regular file, and a
//! program that reads a file in 4 KiB chunks would otherwise produce one
//! event per chunk.
//!
//! A run is keyed by (process, fd) and ends when:
//! - the fd is opened again (`openat` returned it: the old file was closed),
//!   or a read on it names another file;
//! - the process exits;
//! - no read came for [`IDLE_NS`], or the run has lasted [`SPAN_NS`] (a
//!   long read is reported in pieces rather than only at its end);
//! - [`MAX_RUNS`] runs are open (all are ended, so memory stays bounded);
//! - the receiver stops.
//!
//! Times are the kernel's monotonic nanoseconds (`bpf_ktime_get_ns`), the
//! clock the caller's `now` must also be on.

use std::collections::HashMap;

/// A run ends after this long without a read.
pub(crate) const IDLE_NS: u64 = 1_000_000_000;
/// A run ends once its first read is this old.
pub(crate) const SPAN_NS: u64 = 10_000_000_000;
/// Runs open at most; one more ends them all.
pub(crate) const MAX_RUNS: usize = 4096;

/// One `read(2)` the kernel reported, with the file's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub pid: u32,
    pub tid: u32,
    pub fd: i32,
    pub path: String,
    /// Bytes read.
    pub bytes: u64,
    /// File position before the read.
    pub offset: u64,
    /// File size before the read (0 for most pseudo files).
    pub size: u64,
    pub ts_mono_ns: u64,
}

/// Consecutive reads of one file through one fd of one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadRun {
    pub pid: u32,
    /// The thread of the first read.
    pub tid: u32,
    pub fd: i32,
    pub path: String,
    /// Bytes read in all.
    pub bytes: u64,
    /// `read(2)` calls merged.
    pub reads: u64,
    /// File position before the first read.
    pub offset: u64,
    /// File position after the last read.
    end: u64,
    /// Every read started where the previous one ended.
    pub sequential: bool,
    /// File size before the last read.
    pub size: u64,
    /// Time of the first read.
    pub first_ts: u64,
    /// Time of the last read.
    last_ts: u64,
}

impl ReadRun {
    fn start(r: Read) -> ReadRun {
        ReadRun {
            pid: r.pid,
            tid: r.tid,
            fd: r.fd,
            end: r.offset.saturating_add(r.bytes),
            path: r.path,
            bytes: r.bytes,
            reads: 1,
            offset: r.offset,
            sequential: true,
            size: r.size,
            first_ts: r.ts_mono_ns,
            last_ts: r.ts_mono_ns,
        }
    }

    fn add(&mut self, r: &Read) {
        self.sequential &= r.offset == self.end;
        self.end = r.offset.saturating_add(r.bytes);
        self.bytes = self.bytes.saturating_add(r.bytes);
        self.reads += 1;
        self.size = r.size;
        self.last_ts = self.last_ts.max(r.ts_mono_ns);
    }

    /// Whether the run read the whole file from its start: `None` when that
    /// cannot be told (reads out of order, or a file without a size).
    pub(crate) fn complete(&self) -> Option<bool> {
        (self.sequential && self.offset == 0 && self.size > 0).then_some(self.end >= self.size)
    }
}

/// The open runs.
#[derive(Debug, Default)]
pub(crate) struct FileReads {
    runs: HashMap<(u32, i32), ReadRun>,
}

impl FileReads {
    /// Adds one read; returns the runs it ended (the fd's run when it named
    /// another file, every run when [`MAX_RUNS`] were open).
    pub(crate) fn read(&mut self, r: Read) -> Vec<ReadRun> {
        let key = (r.pid, r.fd);
        if let Some(run) = self.runs.get_mut(&key).filter(|run| run.path == r.path) {
            run.add(&r);
            return Vec::new();
        }
        let ended = match self.runs.remove(&key) {
            Some(other_file) => vec![other_file],
            None if self.runs.len() >= MAX_RUNS => self.drain(),
            None => Vec::new(),
        };
        self.runs.insert(key, ReadRun::start(r));
        ended
    }

    /// `fd` of `pid` refers to a new file: its run, if any, has ended.
    pub(crate) fn reopened(&mut self, pid: u32, fd: i32) -> Option<ReadRun> {
        self.runs.remove(&(pid, fd))
    }

    /// The runs of a process that exited.
    pub(crate) fn exited(&mut self, pid: u32) -> Vec<ReadRun> {
        self.take(|run| run.pid == pid)
    }

    /// The runs idle for [`IDLE_NS`] or older than [`SPAN_NS`] at `now`.
    pub(crate) fn expire(&mut self, now: u64) -> Vec<ReadRun> {
        self.take(|run| {
            now.saturating_sub(run.last_ts) >= IDLE_NS
                || now.saturating_sub(run.first_ts) >= SPAN_NS
        })
    }

    /// Every open run (the receiver stops).
    pub(crate) fn drain(&mut self) -> Vec<ReadRun> {
        self.take(|_| true)
    }

    /// Runs open now.
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }

    /// Removes the runs `ended` selects, oldest first.
    fn take(&mut self, ended: impl Fn(&ReadRun) -> bool) -> Vec<ReadRun> {
        let keys: Vec<(u32, i32)> = self
            .runs
            .iter()
            .filter(|(_, run)| ended(run))
            .map(|(k, _)| *k)
            .collect();
        let mut out: Vec<ReadRun> = keys
            .into_iter()
            .filter_map(|k| self.runs.remove(&k))
            .collect();
        out.sort_by_key(|run| (run.first_ts, run.pid, run.fd));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn read(pid: u32, fd: i32, path: &str, offset: u64, bytes: u64, ts: u64) -> Read {
        Read {
            pid,
            tid: pid + 1,
            fd,
            path: path.into(),
            bytes,
            offset,
            size: 10_000,
            ts_mono_ns: ts,
        }
    }

    /// Scenario: a 10,000-byte file read in 4 KiB chunks (4096, 4096, 1808),
    /// then the process exits.
    /// Guarantees: one run with every byte, three calls, the start offset,
    /// complete; nothing ends before the exit.
    #[test]
    fn chunked_read_is_one_run() {
        let mut reads = FileReads::default();
        for (i, (off, n)) in [(0, 4096), (4096, 4096), (8192, 1808)]
            .into_iter()
            .enumerate()
        {
            assert!(reads
                .read(read(7, 3, "/w/a.txt", off, n, i as u64 * MS))
                .is_empty());
        }
        assert_eq!(reads.len(), 1);
        let runs = reads.exited(7);
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(
            (run.bytes, run.reads, run.offset, run.tid, run.first_ts),
            (10_000, 3, 0, 8, 0)
        );
        assert_eq!(run.complete(), Some(true));
        assert_eq!(reads.len(), 0);
        assert!(reads.exited(7).is_empty());
    }

    /// Scenario: the first 100 bytes of a file; a read from the middle;
    /// reads that seek backwards; a read of a file without a size (a
    /// pseudo file).
    /// Guarantees: complete is false, then unknown for the other three (a
    /// run from the middle may be the rest of an earlier run).
    #[test]
    fn completeness_is_told_only_when_known() {
        let mut reads = FileReads::default();
        reads.read(read(1, 2, "/a", 0, 100, 0));
        reads.read(read(1, 3, "/a", 4096, 100, 0));
        reads.read(read(1, 4, "/b", 0, 100, 0));
        reads.read(read(1, 4, "/b", 0, 100, 1));
        let mut pseudo = read(1, 5, "/proc/self/status", 0, 900, 2);
        pseudo.size = 0;
        reads.read(pseudo);
        let runs = reads.exited(1);
        let by_fd = |fd| runs.iter().find(|r| r.fd == fd).unwrap().complete();
        assert_eq!(by_fd(2), Some(false));
        assert_eq!(by_fd(3), None);
        assert_eq!(by_fd(4), None);
        assert_eq!(by_fd(5), None);
        let b = runs.iter().find(|r| r.fd == 4).unwrap();
        assert!(!b.sequential);
        assert_eq!(b.bytes, 200);
    }

    /// Scenario: fd 3 read, reopened on another file and read again; fd 4
    /// read as one file, then (without a seen open) as another.
    /// Guarantees: each file gets its own run; the reopen and the change of
    /// file end the earlier run at once.
    #[test]
    fn a_new_file_on_the_fd_ends_the_run() {
        let mut reads = FileReads::default();
        reads.read(read(1, 3, "/a", 0, 10, 0));
        let ended = reads.reopened(1, 3).unwrap();
        assert_eq!((ended.path.as_str(), ended.bytes), ("/a", 10));
        assert!(reads.reopened(1, 3).is_none());
        reads.read(read(1, 4, "/b", 0, 10, 1));
        let ended = reads.read(read(1, 4, "/c", 0, 20, 2));
        assert_eq!(ended.len(), 1);
        assert_eq!((ended[0].path.as_str(), ended[0].bytes), ("/b", 10));
        assert_eq!(reads.drain()[0].path, "/c");
    }

    /// Scenario: runs of two processes; time passes without reads, and a
    /// run that keeps reading past SPAN_NS.
    /// Guarantees: an idle run ends after IDLE_NS (not before), a busy one
    /// after SPAN_NS; another process's run is not touched by an exit.
    #[test]
    fn idle_and_long_runs_end_by_time() {
        let mut reads = FileReads::default();
        reads.read(read(1, 3, "/a", 0, 10, 0));
        reads.read(read(2, 3, "/a", 0, 10, 0));
        assert!(reads.exited(3).is_empty());
        assert!(reads.expire(IDLE_NS - 1).is_empty());
        let ended = reads.expire(IDLE_NS);
        assert_eq!(ended.iter().map(|r| r.pid).collect::<Vec<_>>(), vec![1, 2]);

        let mut off = 0;
        let mut ts = 0;
        while ts < SPAN_NS {
            reads.read(read(1, 5, "/big", off, 4096, ts));
            assert!(reads.expire(ts).is_empty(), "a busy run ends early at {ts}");
            off += 4096;
            ts += 500 * MS;
        }
        let ended = reads.expire(ts);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].reads, SPAN_NS / (500 * MS));
    }

    /// Scenario: MAX_RUNS runs open, then a read on one more fd.
    /// Guarantees: the open runs end, the new read starts the only run.
    #[test]
    fn runs_are_bounded() {
        let mut reads = FileReads::default();
        for fd in 0..MAX_RUNS as i32 {
            assert!(reads.read(read(1, fd, "/f", 0, 1, 0)).is_empty());
        }
        let ended = reads.read(read(1, -5, "/g", 0, 1, 1));
        assert_eq!(ended.len(), MAX_RUNS);
        assert_eq!(reads.len(), 1);
    }
}
