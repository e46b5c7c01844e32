//! Which records of the persistent queue are settled (exported, failed for
//! good, or dropped from a full queue) and its small state file.
//!
//! Records settle mostly in order, but not always: logs and spans are
//! batched apart, a batch in retry holds back its records while newer ones
//! are evicted. The set is therefore a floor (every sequence below it is
//! settled) plus a few disjoint ranges above it, which merge back into the
//! floor as the gaps close.
//!
//! The file (`acked`) is rewritten after every settlement: written to
//! `acked.tmp`, then renamed over `acked`, so a crash leaves the old or the
//! new state, never a mix. It is not fsynced: after a process crash
//! (`kill -9`) the kernel still writes it; only a power loss can lose the
//! latest acknowledgements, which then means batches delivered again, never
//! batches lost. A file that does not check out is ignored the same way.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"OISPQA\x00\x01";
/// The state file's name.
pub(crate) const FILE_NAME: &str = "acked";
const TMP_NAME: &str = "acked.tmp";

/// Settled sequence numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    floor: u64,
    /// Disjoint, non-adjacent ranges `start -> end` (exclusive) above the floor.
    ranges: BTreeMap<u64, u64>,
}

impl Settled {
    /// Every sequence below `floor` settled, plus `ranges`.
    pub(crate) fn from_parts(floor: u64, ranges: impl IntoIterator<Item = (u64, u64)>) -> Settled {
        let mut s = Settled {
            floor,
            ranges: BTreeMap::new(),
        };
        for (start, end) in ranges {
            s.insert_range(start, end);
        }
        s
    }

    /// The lowest sequence that may be unsettled.
    #[cfg(test)]
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// The first sequence above every settled one.
    pub(crate) fn end(&self) -> u64 {
        self.ranges
            .values()
            .next_back()
            .copied()
            .unwrap_or(self.floor)
    }

    /// True when `seq` is settled.
    pub(crate) fn contains(&self, seq: u64) -> bool {
        if seq < self.floor {
            return true;
        }
        self.ranges
            .range(..=seq)
            .next_back()
            .is_some_and(|(_, &end)| seq < end)
    }

    /// Marks `seq` settled, merging neighbouring ranges and the floor.
    pub(crate) fn insert(&mut self, seq: u64) {
        self.insert_range(seq, seq.saturating_add(1));
    }

    /// Marks `start..end` settled, merging overlapping and adjacent ranges
    /// and the floor.
    pub(crate) fn insert_range(&mut self, start: u64, end: u64) {
        let mut start = start.max(self.floor);
        let mut end = end;
        if start >= end {
            return;
        }
        let touching: Vec<(u64, u64)> = self
            .ranges
            .range(..=end)
            .filter(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.ranges.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        if start <= self.floor {
            self.floor = end;
        } else {
            self.ranges.insert(start, end);
        }
    }

    /// The ranges above the floor, in order.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }

    /// The file's bytes: magic, floor, range count, ranges, CRC-32 of all before.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.ranges.len() * 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.floor.to_le_bytes());
        out.extend_from_slice(&(self.ranges.len() as u64).to_le_bytes());
        for (s, e) in self.ranges() {
            out.extend_from_slice(&s.to_le_bytes());
            out.extend_from_slice(&e.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads the file's bytes; `None` when they do not check out.
    fn decode(bytes: &[u8]) -> Option<Settled> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
            return None;
        }
        let rest = body.strip_prefix(MAGIC)?;
        let mut words = rest
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        if rest.len() % 8 != 0 {
            return None;
        }
        let floor = words.next()?;
        let count = words.next()?;
        let pairs: Vec<u64> = words.collect();
        if pairs.len() as u64 != count.checked_mul(2)? {
            return None;
        }
        let ranges = pairs.chunks_exact(2).map(|p| (p[0], p[1]));
        Some(Settled::from_parts(floor, ranges))
    }

    /// Reads `dir/acked`: `Ok(None)` when it is missing or damaged.
    pub(crate) fn load(dir: &Path) -> std::io::Result<Option<Settled>> {
        match std::fs::read(dir.join(FILE_NAME)) {
            Ok(bytes) => Ok(Settled::decode(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces `dir/acked` with this state (write, then rename).
    pub(crate) fn store(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(TMP_NAME);
        let mut f = oispd_component::private_fs::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        // A leftover from an older version keeps its mode when truncated.
        oispd_component::private_fs::tighten_open(&f, &tmp)?;
        f.write_all(&self.encode())?;
        drop(f);
        std::fs::rename(&tmp, dir.join(FILE_NAME))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: sequences settle out of order around a held-back one.
    /// Guarantees: ranges stay disjoint and merge into the floor as the gap
    /// closes.
    #[test]
    fn merges_ranges_into_the_floor() {
        let mut s = Settled::default();
        s.insert(0);
        assert_eq!(s.floor(), 1);
        for seq in [3, 5, 4, 7] {
            s.insert(seq);
        }
        s.insert_range(4, 6);
        assert_eq!(s.ranges().collect::<Vec<_>>(), vec![(3, 6), (7, 8)]);
        assert!(s.contains(4) && !s.contains(2) && !s.contains(6));
        assert_eq!(s.end(), 8);
        s.insert(1);
        s.insert(2);
        assert_eq!((s.floor(), s.ranges().count()), (6, 1));
        s.insert(6);
        assert_eq!((s.floor(), s.ranges().count()), (8, 0));
        s.insert(2);
        assert_eq!(s.floor(), 8);
        s.insert_range(10, 1_000_000);
        s.insert_range(9, 10);
        assert_eq!(s.ranges().collect::<Vec<_>>(), vec![(9, 1_000_000)]);
        s.insert(8);
        assert_eq!((s.floor(), s.ranges().count()), (1_000_000, 0));
    }

    /// Scenario: the state is stored, reloaded, then the file is damaged.
    /// Guarantees: the same state comes back; a damaged file reads as none.
    #[test]
    fn file_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settled::load(dir.path()).unwrap(), None);
        let s = Settled::from_parts(10, [(12, 14), (20, 21)]);
        s.store(dir.path()).unwrap();
        assert_eq!(Settled::load(dir.path()).unwrap(), Some(s.clone()));
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[9] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(Settled::load(dir.path()).unwrap(), None);
        std::fs::write(&path, b"x").unwrap();
        assert_eq!(Settled::load(dir.path()).unwrap(), None);
    }
}
