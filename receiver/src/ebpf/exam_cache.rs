//! The examination cache: what examining a file concluded, keyed by its GNU
//! build-id, so a copy, a reinstall or a new inode of a known build is
//! probed without analysis. In memory only, bounded, and each entry records
//! the [`MATCHER_VERSION`] that produced it, so an entry from an older
//! matcher is examined again.
//!
//! A build-id is a claim the file makes about itself, not proof, so a hit
//! is checked against the file before it is trusted: the code bytes at
//! every cached probe offset must be the ones examined (a Node
//! single-executable app keeps node's build-id and code, so it hits; a file
//! that only copies a build-id does not), and a "nothing to probe" entry
//! must match the file's size too. A miss is examined in full.

use std::collections::HashMap;
use std::fs::File;

use super::elf::{build_id, bytes_at, ssl_probes, Attach};
use super::tls_stack::{self, TlsStack};

/// Version of the examination logic; bump when what it concludes changes.
pub(crate) const MATCHER_VERSION: u32 = 1;
/// Distinct builds remembered; later ones are examined each time.
const MAX_ENTRIES: usize = 4096;
/// Code bytes compared at each probe offset on a hit.
const CHECK_BYTES: usize = 16;

/// What one build concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The matcher that concluded it.
    matcher_version: u32,
    /// Size of the file examined.
    size: u64,
    /// The probes with the code bytes at each, or `None` (not OpenSSL).
    probes: Option<Vec<(Attach, Vec<u8>)>>,
    /// The TLS stack it carries that cannot be hooked.
    unhooked: Option<TlsStack>,
}

/// What examining a file concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conclusion {
    /// The uprobes to attach, `None` when it is not an OpenSSL.
    pub probes: Option<Vec<Attach>>,
    /// When there is nothing to probe: the TLS stack it carries anyway.
    pub unhooked: Option<TlsStack>,
}

/// How the result was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// From the cache, verified against the file.
    Cache,
    /// By examining the file.
    Examined,
}

/// Examination results by build-id.
#[derive(Debug, Default)]
pub(crate) struct ExamCache {
    entries: HashMap<Vec<u8>, Entry>,
}

impl ExamCache {
    /// What `file` (of `size` bytes) needs, from the cache when its
    /// build-id is known and the entry checks out, else by examining it:
    /// its OpenSSL probes, or else the TLS stack it carries unhooked.
    pub(crate) fn conclude(&mut self, file: &File, size: u64) -> (Conclusion, Source) {
        let id = build_id(file);
        if let Some(entry) = id.as_ref().and_then(|id| self.entries.get(id)) {
            if let Some(probes) = verified(entry, file, size) {
                let unhooked = entry.unhooked;
                return (Conclusion { probes, unhooked }, Source::Cache);
            }
        }
        let probes = ssl_probes(file);
        let unhooked = match probes {
            Some(_) => None,
            None => tls_stack::guess(file),
        };
        if let Some(id) = id {
            if self.entries.len() < MAX_ENTRIES || self.entries.contains_key(&id) {
                let entry = Entry {
                    matcher_version: MATCHER_VERSION,
                    size,
                    probes: probes
                        .as_ref()
                        .map(|probes| probes.iter().map(|a| (*a, code(file, a.offset))).collect()),
                    unhooked,
                };
                self.entries.insert(id, entry);
            }
        }
        (Conclusion { probes, unhooked }, Source::Examined)
    }
}

fn code(file: &File, offset: u64) -> Vec<u8> {
    bytes_at(file, offset, CHECK_BYTES).unwrap_or_default()
}

/// The entry's result if it applies to `file`.
fn verified(entry: &Entry, file: &File, size: u64) -> Option<Option<Vec<Attach>>> {
    if entry.matcher_version != MATCHER_VERSION {
        return None;
    }
    match &entry.probes {
        None => (entry.size == size).then_some(None),
        Some(probes) => probes
            .iter()
            .all(|(a, bytes)| !bytes.is_empty() && code(file, a.offset) == *bytes)
            .then(|| Some(probes.iter().map(|(a, _)| *a).collect())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};
    use std::path::Path;
    use std::process::Command;

    /// Builds a shared object exporting SSL_write/SSL_read with a build-id.
    fn fixture(dir: &Path, name: &str, ssl: bool) -> std::path::PathBuf {
        let src = dir.join(format!("{name}.c"));
        let body = if ssl {
            "int SSL_write(void *s, const void *b, int n) { return n + 1; }\n\
             int SSL_read(void *s, void *b, int n) { return n + 2; }\n"
        } else {
            "const char *where(void) { return \"vendor/rustls-0.23.31/src/conn.rs\"; }\n"
        };
        std::fs::write(&src, body).unwrap();
        let out = dir.join(format!("{name}.so"));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-Wl,--build-id=sha1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc builds the ELF fixtures");
        assert!(status.success());
        out
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    /// Scenario: an OpenSSL-like library examined, then a byte-identical
    /// copy (another inode), then a copy whose code at a probe offset was
    /// changed while its build-id was kept.
    /// Guarantees: the copy is served from the cache with the same probes;
    /// the doctored copy is examined afresh, not trusted.
    #[test]
    fn copy_of_known_build_hits_and_doctored_copy_is_examined() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fixture(dir.path(), "libssl-like", true);
        let mut cache = ExamCache::default();
        let (first, src) = cache.conclude(&File::open(&lib).unwrap(), size(&lib));
        assert_eq!(src, Source::Examined);
        let first = first
            .probes
            .expect("fixture exports SSL_write and SSL_read");

        let copy = dir.path().join("copy.so");
        std::fs::copy(&lib, &copy).unwrap();
        let (again, src) = cache.conclude(&File::open(&copy).unwrap(), size(&copy));
        assert_eq!(src, Source::Cache);
        assert_eq!(again.probes, Some(first.clone()));

        let doctored = dir.path().join("doctored.so");
        std::fs::copy(&lib, &doctored).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&doctored)
            .unwrap();
        f.seek(SeekFrom::Start(first[0].offset)).unwrap();
        f.write_all(&[0xcc; 4]).unwrap();
        drop(f);
        let (_, src) = cache.conclude(&File::open(&doctored).unwrap(), size(&doctored));
        assert_eq!(src, Source::Examined);
    }

    /// Scenario: a library without SSL functions but with "rustls" in its
    /// strings examined, then again, then with an entry recorded by an
    /// older matcher version.
    /// Guarantees: the second look hits with "nothing to probe, rustls";
    /// the old entry is not trusted (examined again, then cached under the
    /// current version).
    #[test]
    fn negative_entry_hits_and_old_matcher_version_is_reexamined() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fixture(dir.path(), "plain", false);
        let mut cache = ExamCache::default();
        let file = File::open(&lib).unwrap();
        let want = Conclusion {
            probes: None,
            unhooked: Some(TlsStack::Rustls),
        };
        assert_eq!(
            cache.conclude(&file, size(&lib)),
            (want.clone(), Source::Examined)
        );
        assert_eq!(
            cache.conclude(&file, size(&lib)),
            (want.clone(), Source::Cache)
        );

        for entry in cache.entries.values_mut() {
            entry.matcher_version = MATCHER_VERSION - 1;
        }
        assert_eq!(cache.conclude(&file, size(&lib)), (want, Source::Examined));
        assert!(cache
            .entries
            .values()
            .all(|e| e.matcher_version == MATCHER_VERSION));
    }
}
