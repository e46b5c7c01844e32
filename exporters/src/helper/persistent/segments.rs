//! Segment files of the persistent queue: their names, creating a new one,
//! and reading one back at start-up.
//!
//! A segment is named after the sequence number of its first record
//! (`00000000000000000042.seg`), so sorting names sorts records. New records
//! go to one active segment; a segment is deleted once every record in it
//! is settled. Scanning stops at the first record that does not check out:
//! in the last segment that is a write cut short by a crash, and the file is
//! cut back to the last whole record.

use super::record::{check_body, parse_header, Meta, HEADER_LEN, MAX_BODY_LEN, SEGMENT_MAGIC};
use oispd_component::private_fs;
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

const SUFFIX: &str = ".seg";

/// The file name of the segment starting at `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The path of the segment starting at `first_seq` in `dir`.
pub(crate) fn path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(file_name(first_seq))
}

/// The segments in `dir`, by first sequence number.
pub(crate) fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((first, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Creates the segment starting at `first_seq` (mode 0600) and makes its
/// directory entry durable. Fails if it already exists.
pub(crate) fn create(dir: &Path, first_seq: u64) -> std::io::Result<File> {
    let mut file = private_fs::options()
        .create_new(true)
        .read(true)
        .append(true)
        .open(path(dir, first_seq))?;
    file.write_all(SEGMENT_MAGIC)?;
    file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// One record found by a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Located {
    /// What the record says about itself.
    pub(crate) meta: Meta,
    /// Where it starts in the file.
    pub(crate) offset: u64,
    /// Its length on disk, header included.
    pub(crate) len: u64,
}

/// How a scan ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Tail {
    /// At the end of the file, after a whole record.
    Clean,
    /// At a record that does not check out, starting at `offset`.
    Damaged {
        /// Where the bad record starts (the magic's length if the first).
        offset: u64,
        /// Bytes from there to the end of the file.
        bytes: u64,
        /// What was wrong.
        reason: String,
    },
}

/// The readable records of one segment and how the scan ended.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Whole, checked records, in order.
    pub(crate) records: Vec<Located>,
    /// Where and why the scan stopped.
    pub(crate) tail: Tail,
}

/// Why a file could not be scanned.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file does not start with the segment magic (and is not a
    /// segment whose creation was cut short).
    #[error("not an oispd queue segment (unknown header)")]
    NotASegment,
}

/// Reads every whole record of the segment at `path`, checking each CRC.
pub(crate) fn scan(path: &Path) -> Result<Scan, ScanError> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let magic_len = SEGMENT_MAGIC.len() as u64;
    let mut magic = [0u8; 8];
    if file_len < magic_len {
        // Created but the magic never fully reached the disk.
        return Ok(Scan {
            records: Vec::new(),
            tail: Tail::Damaged {
                offset: 0,
                bytes: file_len,
                reason: "segment header cut short".into(),
            },
        });
    }
    reader.read_exact(&mut magic)?;
    if &magic != SEGMENT_MAGIC {
        return Err(ScanError::NotASegment);
    }
    let mut records = Vec::new();
    let mut offset = magic_len;
    let mut body = Vec::new();
    let damaged = |offset: u64, reason: &str| Tail::Damaged {
        offset,
        bytes: file_len - offset,
        reason: reason.to_string(),
    };
    loop {
        if offset == file_len {
            return Ok(Scan {
                records,
                tail: Tail::Clean,
            });
        }
        let mut header = [0u8; HEADER_LEN];
        if file_len - offset < HEADER_LEN as u64 {
            let tail = damaged(offset, "record header cut short");
            return Ok(Scan { records, tail });
        }
        reader.read_exact(&mut header)?;
        let (len, crc) = parse_header(&header);
        let total = HEADER_LEN as u64 + len as u64;
        if len > MAX_BODY_LEN || total > file_len - offset {
            let tail = damaged(offset, "record cut short");
            return Ok(Scan { records, tail });
        }
        body.resize(len, 0);
        match reader.read_exact(&mut body) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                let tail = damaged(offset, "record cut short");
                return Ok(Scan { records, tail });
            }
            Err(e) => return Err(e.into()),
        }
        match check_body(&body, crc) {
            Ok(meta) => records.push(Located {
                meta,
                offset,
                len: total,
            }),
            Err(e) => {
                let tail = damaged(offset, &e.to_string());
                return Ok(Scan { records, tail });
            }
        }
        offset += total;
    }
}
