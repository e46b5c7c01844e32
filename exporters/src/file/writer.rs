//! The output file: opening (append or truncate, creating directories),
//! whole-record writes, size-based rotation and backup pruning. Records are
//! lines or length-prefixed frames ([`Framing`]); the rules are the same.
//!
//! Crash safety: callers hand over complete records only, and each file
//! receives them in one `write` of whole records, so a killed process
//! leaves only whole records. A write that fails part-way is cut back to
//! the last good size, so nothing half-written stays and the batch can be
//! retried without duplicates. A torn last record left by a crash of an
//! older process (or another writer) is cut off when the file is opened for
//! appending: after the last newline, or after the last whole frame.
//!
//! Rotation never splits a record: when the next record would push the
//! file past `max_bytes`, the file is closed and renamed to
//! `<stem>-<YYYY-MM-DDTHH-MM-SS.mmm>[-N]<.ext>` (UTC unless `localtime`,
//! `-N` only when that name is taken), a new file is opened at `path`, and
//! the oldest backups beyond `max_backups` are deleted. A single record
//! larger than `max_bytes` gets a file of its own.
//!
//! Modes: records hold prompts and responses, so the file is created 0600
//! and directories created for it 0700 ([`private_fs`]); backups are the
//! renamed file and keep its mode. An existing file or backups with looser
//! modes (written by an older version) are tightened when the file is
//! opened.

use oispd_component::private_fs;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::encode::{Framing, LENGTH_PREFIX_BYTES};

/// When and how to rotate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RotationPolicy {
    /// Rotate before a line would make the file larger than this.
    pub(crate) max_bytes: u64,
    /// Backups kept; 0 keeps all.
    pub(crate) max_backups: usize,
    /// Name backups in local time instead of UTC.
    pub(crate) localtime: bool,
}

/// A write that failed after `written` bytes of the input (whole records)
/// had reached the file.
#[derive(Debug)]
pub(crate) struct WriteError {
    /// Leading bytes of the input that are safely on disk.
    pub(crate) written: usize,
    /// What failed.
    pub(crate) error: std::io::Error,
}

/// An open output file.
pub(crate) struct RecordWriter {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Option<RotationPolicy>,
    framing: Framing,
}

/// How to open the output file.
#[derive(Clone, Debug)]
pub(crate) struct OpenOptions {
    /// Keep what the file holds (its torn tail cut) instead of truncating.
    pub(crate) append: bool,
    /// Create missing parent directories.
    pub(crate) create_directory: bool,
    /// Rotation, if any.
    pub(crate) rotation: Option<RotationPolicy>,
    /// How records are delimited.
    pub(crate) framing: Framing,
}

impl RecordWriter {
    /// Opens `path` for appending or truncates it, creating missing parent
    /// directories on request.
    pub(crate) fn open(path: &Path, options: OpenOptions) -> std::io::Result<RecordWriter> {
        let OpenOptions {
            append,
            create_directory,
            rotation,
            framing,
        } = options;
        if create_directory {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                private_fs::create_dir_all(parent)?;
            }
        }
        let mut file = private_fs::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!append)
            .open(path)?;
        private_fs::tighten_open(&file, path)?;
        if rotation.is_some() {
            let old = backups(path)?;
            private_fs::tighten_all(old.iter().map(PathBuf::as_path), "rotated output files")?;
        }
        let size = if append {
            let cut = repair_torn_tail(&mut file, framing)?;
            if cut > 0 {
                tracing::warn!(
                    path = %path.display(),
                    bytes = cut,
                    "removed an incomplete last record left by an earlier writer"
                );
            }
            file.seek(SeekFrom::End(0))?
        } else {
            0
        };
        Ok(RecordWriter {
            path: path.to_path_buf(),
            file,
            size,
            rotation,
            framing,
        })
    }

    /// Current size of the active file.
    #[cfg(test)]
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Writes `records` (complete records in the writer's framing),
    /// rotating between records as needed.
    pub(crate) fn write_records(&mut self, records: &[u8]) -> Result<(), WriteError> {
        let mut written = 0;
        while written < records.len() {
            let rest = &records[written..];
            let chunk = self.fitting_prefix(rest);
            if chunk == 0 {
                self.rotate()
                    .map_err(|error| WriteError { written, error })?;
                continue;
            }
            self.write_chunk(&rest[..chunk])
                .map_err(|error| WriteError { written, error })?;
            written += chunk;
        }
        Ok(())
    }

    /// How many leading bytes of `rest` (whole records) fit in the active
    /// file; 0 means rotate first. An empty file takes at least one record.
    fn fitting_prefix(&self, rest: &[u8]) -> usize {
        let Some(policy) = &self.rotation else {
            return rest.len();
        };
        let room = policy.max_bytes.saturating_sub(self.size);
        if rest.len() as u64 <= room {
            return rest.len();
        }
        let limit = usize::try_from(room).unwrap_or(usize::MAX);
        match self.framing.last_end_within(rest, limit) {
            0 if self.size == 0 => self.framing.first_end(rest),
            end => end,
        }
    }

    /// One write of whole records; on failure the file is cut back so no
    /// partial record stays.
    fn write_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        match self.file.write_all(chunk) {
            Ok(()) => {
                self.size += chunk.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Best effort: if even this fails the next open repairs
                // the torn tail.
                let _ = self.file.set_len(self.size);
                let _ = self.file.seek(SeekFrom::Start(self.size));
                Err(e)
            }
        }
    }

    /// Pushes written data to the kernel's durable storage.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let Some(policy) = self.rotation.clone() else {
            return Ok(());
        };
        self.file.sync_data()?;
        let backup = backup_path(&self.path, policy.localtime)?;
        std::fs::rename(&self.path, &backup)?;
        self.file = private_fs::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)?;
        private_fs::tighten_open(&self.file, &self.path)?;
        self.size = 0;
        if policy.max_backups > 0 {
            prune_backups(&self.path, policy.max_backups)?;
        }
        Ok(())
    }
}

/// Cuts a torn last record; returns the bytes removed.
fn repair_torn_tail(file: &mut File, framing: Framing) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    let keep = match framing {
        Framing::Lines => whole_lines_end(file, len)?,
        Framing::LengthPrefixed => whole_frames_end(file, len)?,
    };
    if keep < len {
        file.set_len(keep)?;
    }
    Ok(len - keep)
}

/// The end of the last whole line of a file of `len` bytes.
fn whole_lines_end(file: &mut File, len: u64) -> std::io::Result<u64> {
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    // Scan backwards for the last newline.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if end == 0 {
            return Ok(0);
        }
        let start = end.saturating_sub(buf.len() as u64);
        let n = usize::try_from(end - start).unwrap_or(buf.len());
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
}

/// The end of the last whole length-prefixed frame of a file of `len`
/// bytes, walking the frames from the start (a header per frame is read).
fn whole_frames_end(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = 0u64;
    let mut header = [0u8; LENGTH_PREFIX_BYTES];
    while end + LENGTH_PREFIX_BYTES as u64 <= len {
        file.seek(SeekFrom::Start(end))?;
        file.read_exact(&mut header)?;
        let next = end + LENGTH_PREFIX_BYTES as u64 + u64::from(u32::from_be_bytes(header));
        if next > len {
            break;
        }
        end = next;
    }
    Ok(end)
}

/// `(stem, extension with its dot)` of the active file's name.
fn name_parts(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (stem, ext)
}

/// A free backup name for a rotation happening now. Within one
/// millisecond the `-N` suffix counts up past every existing backup of that
/// moment, so names keep sorting in rotation order even after pruning.
fn backup_path(path: &Path, localtime: bool) -> std::io::Result<PathBuf> {
    let stamp = if localtime {
        chrono::Local::now()
            .format("%Y-%m-%dT%H-%M-%S%.3f")
            .to_string()
    } else {
        chrono::Utc::now()
            .format("%Y-%m-%dT%H-%M-%S%.3f")
            .to_string()
    };
    let (stem, ext) = name_parts(path);
    let dir = path.parent().unwrap_or(Path::new(""));
    let same_moment = backups(path)?
        .iter()
        .filter_map(|b| b.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter_map(|n| backup_key(&n, &stem, &ext))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, n)| n)
        .max();
    let name = match same_moment {
        None => format!("{stem}-{stamp}{ext}"),
        Some(n) => format!("{stem}-{stamp}-{}{ext}", n + 1),
    };
    Ok(dir.join(name))
}

/// The sort key of a backup name (`timestamp`, `N`), `None` for other files.
fn backup_key(name: &str, stem: &str, ext: &str) -> Option<(String, u64)> {
    let middle = name
        .strip_prefix(stem)?
        .strip_prefix('-')?
        .strip_suffix(ext)?;
    // YYYY-MM-DDTHH-MM-SS.mmm is 23 characters.
    if middle.len() < 23 {
        return None;
    }
    let (stamp, suffix) = middle.split_at(23);
    let b = stamp.as_bytes();
    let shape_ok = b[4] == b'-' && b[10] == b'T' && b[19] == b'.';
    let digits_ok = stamp
        .chars()
        .enumerate()
        .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit());
    if !shape_ok || !digits_ok {
        return None;
    }
    let n = match suffix {
        "" => 0,
        s => s.strip_prefix('-')?.parse().ok()?,
    };
    Some((stamp.to_string(), n))
}

/// The backups of `path`, oldest first.
pub(crate) fn backups(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (stem, ext) = name_parts(path);
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(key) = backup_key(&name, &stem, &ext) {
            found.push((key, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

fn prune_backups(path: &Path, keep: usize) -> std::io::Result<()> {
    let all = backups(path)?;
    let excess = all.len().saturating_sub(keep);
    for old in &all[..excess] {
        std::fs::remove_file(old)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn open_lines(
        path: &Path,
        append: bool,
        create_directory: bool,
        rotation: Option<RotationPolicy>,
    ) -> std::io::Result<RecordWriter> {
        RecordWriter::open(
            path,
            OpenOptions {
                append,
                create_directory,
                rotation,
                framing: Framing::Lines,
            },
        )
    }

    fn lines(n: usize, width: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            let line = format!("{i:0width$}\n", width = width - 1);
            out.extend_from_slice(line.as_bytes());
        }
        out
    }

    fn all_lines(path: &Path) -> Vec<String> {
        let mut files = backups(path).unwrap();
        files.push(path.to_path_buf());
        files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Scenario: 1000 lines of 100 bytes with rotation at 2500 bytes and
    /// no backup limit.
    /// Guarantees: no file exceeds the limit, every file holds whole lines,
    /// and every line is found exactly once, in order, across all files.
    #[test]
    fn rotation_never_splits_or_loses_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let policy = RotationPolicy {
            max_bytes: 2500,
            max_backups: 0,
            localtime: false,
        };
        let mut w = open_lines(&path, true, false, Some(policy)).unwrap();
        let data = lines(1000, 100);
        for chunk in data.chunks(100 * 37) {
            w.write_records(chunk).unwrap();
        }
        let got = all_lines(&path);
        let want: Vec<String> = (0..1000).map(|i| format!("{i:099}")).collect();
        assert_eq!(got, want);
        for f in backups(&path).unwrap() {
            let len = std::fs::metadata(&f).unwrap().len();
            assert!(len <= 2500 && len % 100 == 0, "{} {len}", f.display());
        }
    }

    /// Scenario: rotation with max_backups 3.
    /// Guarantees: exactly 3 backups remain, the newest ones, named
    /// `<stem>-<timestamp>[-N].jsonl`.
    #[test]
    fn keeps_max_backups_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let policy = RotationPolicy {
            max_bytes: 1000,
            max_backups: 3,
            localtime: false,
        };
        let mut w = open_lines(&path, true, false, Some(policy)).unwrap();
        w.write_records(&lines(100, 100)).unwrap();
        let kept = backups(&path).unwrap();
        assert_eq!(kept.len(), 3);
        for b in &kept {
            let name = b.file_name().unwrap().to_string_lossy().into_owned();
            assert!(backup_key(&name, "events", ".jsonl").is_some(), "{name}");
        }
        // The newest backups hold the last lines before the active file.
        let got = all_lines(&path);
        let want: Vec<String> = (60..100).map(|i| format!("{i:099}")).collect();
        assert_eq!(got, want);
    }

    /// Scenario: a line longer than max_bytes.
    /// Guarantees: it gets a file of its own rather than being split or lost.
    #[test]
    fn oversized_line_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        let policy = RotationPolicy {
            max_bytes: 10,
            max_backups: 0,
            localtime: false,
        };
        let mut w = open_lines(&path, true, false, Some(policy)).unwrap();
        w.write_records(b"ab\n").unwrap();
        w.write_records(b"0123456789abcdef\ncd\n").unwrap();
        assert_eq!(all_lines(&path), vec!["ab", "0123456789abcdef", "cd"]);
    }

    /// Scenario: an existing file ends in a torn line (a crashed writer).
    /// Guarantees: append mode cuts the torn tail and appends whole lines.
    #[test]
    fn append_repairs_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, b"{\"a\":1}\n{\"b\":").unwrap();
        let mut w = open_lines(&path, true, false, None).unwrap();
        assert_eq!(w.size(), 8);
        w.write_records(b"{\"c\":3}\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"c\":3}\n"
        );
    }

    /// `n` length-prefixed frames of `body` bytes each, frame `i` filled
    /// with byte `i`.
    fn frames(n: usize, body: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.extend_from_slice(&(body as u32).to_be_bytes());
            out.extend(std::iter::repeat_n(i as u8, body));
        }
        out
    }

    fn open_frames(path: &Path, rotation: Option<RotationPolicy>) -> RecordWriter {
        RecordWriter::open(
            path,
            OpenOptions {
                append: true,
                create_directory: false,
                rotation,
                framing: Framing::LengthPrefixed,
            },
        )
        .unwrap()
    }

    /// Scenario: a proto file ending in a frame cut short (header and part
    /// of the body), then one ending inside a header.
    /// Guarantees: append mode cuts back to the last whole frame and the
    /// next frame follows it.
    #[test]
    fn append_repairs_a_torn_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.binpb");
        let whole = frames(3, 10);
        for torn in [&whole[..14 * 2 + 9], &whole[..14 * 2 + 2]] {
            std::fs::write(&path, torn).unwrap();
            let mut w = open_frames(&path, None);
            assert_eq!(w.size(), 28);
            w.write_records(&whole[28..]).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), whole);
        }
    }

    /// Scenario: 100 frames of 96 bytes (100 with the header) rotated at
    /// 250 bytes, then one frame larger than the limit.
    /// Guarantees: every file holds whole frames (a multiple of 100 bytes,
    /// at most 250), all frames in order across the files; the large frame
    /// gets a file of its own.
    #[test]
    fn rotation_never_splits_a_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.binpb");
        let policy = RotationPolicy {
            max_bytes: 250,
            max_backups: 0,
            localtime: false,
        };
        let mut w = open_frames(&path, Some(policy));
        let data = frames(100, 96);
        for chunk in data.chunks(100 * 7) {
            w.write_records(chunk).unwrap();
        }
        let big = frames(1, 300);
        w.write_records(&big).unwrap();
        let mut files = backups(&path).unwrap();
        files.push(path.clone());
        let mut all = Vec::new();
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            if bytes != big {
                assert!(
                    bytes.len() <= 250 && bytes.len() % 100 == 0,
                    "{}",
                    bytes.len()
                );
            }
            all.extend(bytes);
        }
        let mut want = data;
        want.extend(big);
        assert_eq!(all, want);
    }

    /// Scenario: append false on an existing file; a missing directory.
    /// Guarantees: the file is truncated; directories are created on request
    /// and their absence is an error otherwise.
    #[test]
    fn truncate_and_create_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, b"old\n").unwrap();
        let mut w = open_lines(&path, false, false, None).unwrap();
        w.write_records(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let nested = dir.path().join("a/b/c.jsonl");
        assert!(open_lines(&nested, true, false, None).is_err());
        open_lines(&nested, true, true, None).unwrap();
        assert!(nested.exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Scenario: the output file in directories the exporter creates,
    /// rotated three times.
    /// Guarantees: the active file and every backup are 0600, every
    /// directory created for them 0700.
    #[test]
    fn output_backups_and_created_directories_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("made/for/it/events.jsonl");
        let policy = RotationPolicy {
            max_bytes: 250,
            max_backups: 0,
            localtime: false,
        };
        let mut w = open_lines(&path, true, true, Some(policy)).unwrap();
        w.write_records(&lines(10, 100)).unwrap();
        let kept = backups(&path).unwrap();
        assert!(kept.len() >= 3, "{kept:?}");
        for f in kept.iter().chain([&path]) {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        for d in ["made", "made/for", "made/for/it"] {
            assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
        }
    }

    /// Scenario: an output file and a backup left 0644 by an older
    /// version; the exporter opens the file again.
    /// Guarantees: both become 0600 and their content is kept.
    #[test]
    fn loose_existing_output_and_backups_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let backup = dir.path().join("events-2026-11-22T05-30-00.123.jsonl");
        for f in [&path, &backup] {
            std::fs::write(f, b"{}\n").unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let policy = RotationPolicy {
            max_bytes: 1000,
            max_backups: 0,
            localtime: false,
        };
        open_lines(&path, true, false, Some(policy)).unwrap();
        for f in [&path, &backup] {
            assert_eq!(mode(f), 0o600, "{}", f.display());
            assert_eq!(std::fs::read(f).unwrap(), b"{}\n");
        }
    }

    /// Scenario: names that look almost like backups.
    /// Guarantees: only `<stem>-<timestamp>[-N]<ext>` counts.
    #[test]
    fn backup_names_are_recognised_exactly() {
        assert_eq!(
            backup_key("e-2026-11-22T05-30-00.123.jsonl", "e", ".jsonl"),
            Some(("2026-11-22T05-30-00.123".into(), 0))
        );
        assert_eq!(
            backup_key("e-2026-11-22T05-30-00.123-2.jsonl", "e", ".jsonl"),
            Some(("2026-11-22T05-30-00.123".into(), 2))
        );
        assert_eq!(backup_key("e-notes.jsonl", "e", ".jsonl"), None);
        assert_eq!(backup_key("e.jsonl", "e", ".jsonl"), None);
        assert_eq!(
            backup_key("e-2026-11-22T05-30-00.123.json", "e", ".jsonl"),
            None
        );
    }
}
