//! The examination cache: what examining a file concluded, keyed by its GNU
//! build-id, so a copy, a reinstall or a new inode of a known build is
//! probed without analysis (every `bun build --compile` app of one Bun
//! release carries that release's build-id and code: one analysis covers
//! them all). In memory only, bounded, and each entry records the
//! [`MATCHER_VERSION`] that produced it, so an entry from an older matcher
//! is examined again.
//!
//! The examination itself is a chain: exported OpenSSL symbols first;
//! else, when the file's read-only data shows BoringSSL, its `SSL_write`
//! and `SSL_read` located by structure ([`boringssl`]); else, when it
//! shows rustls or aws-lc and aws-lc's `aead.c` file name, aws-lc's AEAD
//! entry points located by symbols or structure ([`aws_lc`]);
//! else the TLS stack it carries unhooked, if any.
//!
//! A build-id is a claim the file makes about itself, not proof, so a hit
//! is checked against the file before it is trusted: the code bytes at
//! every cached probe offset must be the ones examined (a Node
//! single-executable app keeps node's build-id and code, so it hits; a file
//! that only copies a build-id does not), for BoringSSL also the
//! instruction loading `SSL_R_BAD_LENGTH` in `SSL_write` (the fact that
//! identified it), for located aws-lc AEAD entry points the code at each,
//! and a "nothing to probe" entry without located code must match the
//! file's size too. A miss is examined in full; what a file that failed
//! those checks concluded never replaces the entry it failed, and a
//! BoringSSL or rustls/aws-lc file a finder refused is not cached at all,
//! so a doctored copy cannot make oispd skip the genuine build.

use std::collections::HashMap;
use std::fs::File;

use super::aws_lc;
use super::boringssl;
use super::elf::{build_id, bytes_at, ssl_probes, Attach};
use super::tls_stack::{self, TlsStack};

/// Version of the examination logic; bump when what it concludes changes.
/// 2: BoringSSL located by structure. 3: aws-lc's AEAD entry points
/// located and probed in rustls and aws-lc binaries.
pub(crate) const MATCHER_VERSION: u32 = 3;
/// Distinct builds remembered; later ones are examined each time.
const MAX_ENTRIES: usize = 4096;
/// Code bytes compared at each probe offset on a hit.
const CHECK_BYTES: usize = 16;

/// How a file's probe points were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeMethod {
    /// Its exported OpenSSL `SSL_*` symbols.
    OpenSslSymbols,
    /// BoringSSL's `SSL_write`/`SSL_read`, located by structure in a
    /// stripped binary.
    BoringSslStructure,
    /// aws-lc's `EVP_AEAD_CTX_seal`/`open` (rustls with aws-lc-rs), named
    /// in the file's symbol table.
    AwsLcAeadSymbols,
    /// aws-lc's `EVP_AEAD_CTX_seal`/`open`, located by structure in a
    /// stripped binary (Codex CLI).
    AwsLcAeadStructure,
}

impl ProbeMethod {
    /// The name in `/api/health`.
    pub fn label(self) -> &'static str {
        match self {
            ProbeMethod::OpenSslSymbols => "openssl_exported_symbols",
            ProbeMethod::BoringSslStructure => "boringssl_structure",
            ProbeMethod::AwsLcAeadSymbols => "aws_lc_aead_symbols",
            ProbeMethod::AwsLcAeadStructure => "aws_lc_aead_structure",
        }
    }
}

/// The uprobes a file needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Probes {
    /// How they were found.
    pub method: ProbeMethod,
    /// Where they go.
    pub attach: Vec<Attach>,
}

/// A TLS stack a file carries that is not probed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unhooked {
    /// The library guessed.
    pub library: TlsStack,
    /// Why it is not probed (for the log and `/api/health`).
    pub reason: String,
}

/// What examining a file concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conclusion {
    /// The file's build-id, hex.
    pub build_id: Option<String>,
    /// The uprobes to attach, `None` when there is nothing to probe.
    pub probes: Option<Probes>,
    /// When there is nothing to probe: the TLS stack it carries anyway.
    pub unhooked: Option<Unhooked>,
}

/// (file offset, bytes) that must read the same in a file for a cached
/// entry to apply.
type ByteChecks = Vec<(u64, Vec<u8>)>;

/// What one build concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The matcher that concluded it.
    matcher_version: u32,
    /// Size of the file examined.
    size: u64,
    /// The code at each probe, and the identifying site.
    checks: ByteChecks,
    probes: Option<Probes>,
    unhooked: Option<Unhooked>,
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
    /// build-id is known and the entry checks out, else by examining it.
    pub(crate) fn conclude(&mut self, file: &File, size: u64) -> (Conclusion, Source) {
        let id = build_id(file);
        let build_id = id.as_deref().map(hex::encode);
        let known = id.as_ref().and_then(|id| self.entries.get(id));
        if let Some(entry) = known.filter(|e| applies(e, file, size)) {
            let conclusion = Conclusion {
                build_id,
                probes: entry.probes.clone(),
                unhooked: entry.unhooked.clone(),
            };
            return (conclusion, Source::Cache);
        }
        let replaceable = known.is_none_or(|e| e.matcher_version != MATCHER_VERSION);
        let (probes, unhooked, checks) = examine(file);
        if let Some(id) = id.filter(|_| replaceable && !checks.refused) {
            if self.entries.len() < MAX_ENTRIES || self.entries.contains_key(&id) {
                let entry = Entry {
                    matcher_version: MATCHER_VERSION,
                    size,
                    checks: checks.bytes,
                    probes: probes.clone(),
                    unhooked: unhooked.clone(),
                };
                self.entries.insert(id, entry);
            }
        }
        let conclusion = Conclusion {
            build_id,
            probes,
            unhooked,
        };
        (conclusion, Source::Examined)
    }
}

/// What an examination found to check again on a cache hit.
#[derive(Debug, Default)]
struct Checks {
    /// The bytes a cached result must find again.
    bytes: ByteChecks,
    /// A finder refused the file: not cached.
    refused: bool,
}

/// The examination chain (see the module doc), with what a cached result
/// must find again.
fn examine(file: &File) -> (Option<Probes>, Option<Unhooked>, Checks) {
    if let Some(attach) = ssl_probes(file) {
        let checks = Checks {
            bytes: probe_checks(file, &attach),
            refused: false,
        };
        let probes = Probes {
            method: ProbeMethod::OpenSslSymbols,
            attach,
        };
        return (Some(probes), None, checks);
    }
    let guess = tls_stack::guess(file);
    match guess.stack {
        Some(TlsStack::BoringSsl) => match boringssl::locate(file) {
            Ok(funcs) => {
                let attach = funcs.attach_points();
                let mut bytes = probe_checks(file, &attach);
                bytes.push(funcs.bad_length_site);
                let probes = Probes {
                    method: ProbeMethod::BoringSslStructure,
                    attach,
                };
                let checks = Checks {
                    bytes,
                    refused: false,
                };
                (Some(probes), None, checks)
            }
            Err(refusal) => {
                let unhooked = Unhooked {
                    library: TlsStack::BoringSsl,
                    reason: format!(
                        "{}; SSL_write/SSL_read not located by structure: {refusal}",
                        TlsStack::BoringSsl.reason()
                    ),
                };
                let checks = Checks {
                    bytes: Vec::new(),
                    refused: true,
                };
                (None, Some(unhooked), checks)
            }
        },
        Some(library @ (TlsStack::Rustls | TlsStack::AwsLc)) if guess.aws_lc_aead => {
            examine_aws_lc(file, library)
        }
        Some(library) => {
            let unhooked = Unhooked {
                library,
                reason: library.reason().to_string(),
            };
            (None, Some(unhooked), Checks::default())
        }
        None => (None, None, Checks::default()),
    }
}

/// A rustls or aws-lc binary: where aws-lc's AEAD entry points are, in the
/// reason (the AEAD uprobes are attached by the capture side once it has
/// them; until then the file stays unhooked).
fn examine_aws_lc(file: &File, library: TlsStack) -> (Option<Probes>, Option<Unhooked>, Checks) {
    match aws_lc::find_aead_entry_points(file) {
        Ok(aead) => {
            tracing::debug!(bytes_read = aead.bytes_read, located = %aead, "aws-lc AEAD entry points");
            let attach = aead.attach_points();
            let checks = Checks {
                bytes: probe_checks(file, &attach),
                refused: false,
            };
            let method = match aead.located_by {
                aws_lc::LocatedBy::Symbols => ProbeMethod::AwsLcAeadSymbols,
                aws_lc::LocatedBy::Structure => ProbeMethod::AwsLcAeadStructure,
            };
            (Some(Probes { method, attach }), None, checks)
        }
        Err(refusal) => {
            let unhooked = Unhooked {
                library,
                reason: format!(
                    "{}; aws-lc's AEAD entry points not located: {refusal}",
                    library.reason()
                ),
            };
            let checks = Checks {
                bytes: Vec::new(),
                refused: true,
            };
            (None, Some(unhooked), checks)
        }
    }
}

/// The code bytes at each distinct probe offset.
fn probe_checks(file: &File, attach: &[Attach]) -> ByteChecks {
    offset_checks(file, attach.iter().map(|a| a.offset).collect())
}

/// The code bytes at each distinct offset.
fn offset_checks(file: &File, mut offsets: Vec<u64>) -> ByteChecks {
    offsets.sort_unstable();
    offsets.dedup();
    offsets
        .into_iter()
        .map(|offset| {
            let code = bytes_at(file, offset, CHECK_BYTES).unwrap_or_default();
            (offset, code)
        })
        .collect()
}

/// Whether the cached `entry` applies to `file`.
fn applies(entry: &Entry, file: &File, size: u64) -> bool {
    if entry.matcher_version != MATCHER_VERSION {
        return false;
    }
    if entry.checks.is_empty() {
        return entry.probes.is_none() && entry.size == size;
    }
    entry.checks.iter().all(|(offset, bytes)| {
        !bytes.is_empty()
            && bytes_at(file, *offset, bytes.len()).is_some_and(|found| found == *bytes)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_receiver_ebpf::programs;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Builds a shared object with a build-id: exporting SSL_write/SSL_read,
    /// or only returning the string `mark`.
    fn fixture(dir: &Path, name: &str, ssl: bool, mark: &str) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        let body = if ssl {
            "int SSL_write(void *s, const void *b, int n) { return n + 1; }\n\
             int SSL_read(void *s, void *b, int n) { return n + 2; }\n"
                .to_string()
        } else {
            format!("const char *where(void) {{ return \"{mark}\"; }}\n")
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

    fn conclude(cache: &mut ExamCache, path: &Path) -> (Conclusion, Source) {
        cache.conclude(&File::open(path).unwrap(), size(path))
    }

    /// A copy of `path` with `bytes` written at `offset`.
    fn doctored(path: &Path, name: &str, offset: u64, bytes: &[u8]) -> PathBuf {
        let out = path.with_file_name(name);
        std::fs::copy(path, &out).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&out).unwrap();
        f.write_all_at(bytes, offset).unwrap();
        out
    }

    /// Scenario: an OpenSSL-like library examined, then a byte-identical
    /// copy (another inode), then a copy whose code at a probe offset was
    /// changed while its build-id was kept, then the genuine copy again.
    /// Guarantees: the copy is served from the cache with the same probes
    /// (method: exported symbols); the doctored copy is examined afresh, not
    /// trusted, and does not replace the entry: the genuine copy still hits.
    #[test]
    fn copy_of_known_build_hits_and_doctored_copy_is_examined() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fixture(dir.path(), "libssl-like", true, "");
        let mut cache = ExamCache::default();
        let (first, src) = conclude(&mut cache, &lib);
        assert_eq!(src, Source::Examined);
        let first = first
            .probes
            .expect("fixture exports SSL_write and SSL_read");
        assert_eq!(first.method, ProbeMethod::OpenSslSymbols);

        let copy = dir.path().join("copy.so");
        std::fs::copy(&lib, &copy).unwrap();
        let (again, src) = conclude(&mut cache, &copy);
        assert_eq!(src, Source::Cache);
        assert_eq!(again.probes, Some(first.clone()));

        let bad = doctored(&lib, "doctored.so", first.attach[0].offset, &[0xcc; 4]);
        let (_, src) = conclude(&mut cache, &bad);
        assert_eq!(src, Source::Examined);
        let (again, src) = conclude(&mut cache, &copy);
        assert_eq!(src, Source::Cache);
        assert_eq!(again.probes, Some(first));
    }

    /// Scenario: a library without SSL functions but with Go's crypto/tls in
    /// its strings examined, then again, then with an entry recorded by an
    /// older matcher version.
    /// Guarantees: the second look hits with "nothing to probe, Go";
    /// the old entry is not trusted (examined again, then cached under the
    /// current version).
    #[test]
    fn negative_entry_hits_and_old_matcher_version_is_reexamined() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fixture(dir.path(), "plain", false, "crypto/tls.(*Conn).Write");
        let mut cache = ExamCache::default();
        let want = Conclusion {
            build_id: build_id(&File::open(&lib).unwrap()).map(hex::encode),
            probes: None,
            unhooked: Some(Unhooked {
                library: TlsStack::GoCryptoTls,
                reason: TlsStack::GoCryptoTls.reason().to_string(),
            }),
        };
        assert!(want.build_id.is_some());
        assert_eq!(conclude(&mut cache, &lib), (want.clone(), Source::Examined));
        assert_eq!(conclude(&mut cache, &lib), (want.clone(), Source::Cache));

        for entry in cache.entries.values_mut() {
            entry.matcher_version = MATCHER_VERSION - 1;
        }
        assert_eq!(conclude(&mut cache, &lib), (want, Source::Examined));
        assert!(cache
            .entries
            .values()
            .all(|e| e.matcher_version == MATCHER_VERSION));
    }

    /// Scenario: a library carrying BoringSSL's ssl_lib.cc file name but
    /// none of its functions, examined twice.
    /// Guarantees: it is unhooked BoringSSL with the finder's refusal in the
    /// reason, and the refusal is not cached (examined again).
    #[test]
    fn refused_boringssl_is_unhooked_with_the_reason_and_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fixture(
            dir.path(),
            "bssl-like",
            false,
            "../../vendor/boringssl/ssl/ssl_lib.cc",
        );
        let mut cache = ExamCache::default();
        for _ in 0..2 {
            let (conclusion, src) = conclude(&mut cache, &lib);
            assert_eq!(src, Source::Examined);
            assert_eq!(conclusion.probes, None);
            let unhooked = conclusion.unhooked.unwrap();
            assert_eq!(unhooked.library, TlsStack::BoringSsl);
            assert!(
                unhooked.reason.contains("not located by structure: "),
                "{}",
                unhooked.reason
            );
        }
        assert!(cache.entries.is_empty());
    }

    /// Scenario: a library with "rustls" in its strings and no aws-lc file
    /// name, examined twice; one with both and none of aws-lc's functions,
    /// examined twice.
    /// Guarantees: the first is unhooked rustls with the plain reason (the
    /// aws-lc finder is not run) and cached; the second is unhooked rustls
    /// with the aws-lc finder's refusal in the reason, not cached.
    #[test]
    fn rustls_goes_to_the_aws_lc_finder_only_with_aws_lc_s_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let ring = fixture(
            dir.path(),
            "rustls-ring",
            false,
            "vendor/rustls-0.23.31/src/conn.rs",
        );
        let mut cache = ExamCache::default();
        for src in [Source::Examined, Source::Cache] {
            let (conclusion, from) = conclude(&mut cache, &ring);
            assert_eq!((conclusion.probes, from), (None, src));
            let unhooked = conclusion.unhooked.unwrap();
            assert_eq!(unhooked.library, TlsStack::Rustls);
            assert_eq!(unhooked.reason, TlsStack::Rustls.reason());
        }
        let named = fixture(
            dir.path(),
            "rustls-aws-lc-name",
            false,
            "rustls-0.23.31/src/conn.rs /aws-lc/crypto/fipsmodule/cipher/aead.c",
        );
        let mut cache = ExamCache::default();
        for _ in 0..2 {
            let (conclusion, src) = conclude(&mut cache, &named);
            assert_eq!((conclusion.probes, src), (None, Source::Examined));
            let unhooked = conclusion.unhooked.unwrap();
            assert_eq!(unhooked.library, TlsStack::Rustls);
            assert!(
                unhooked.reason.starts_with(TlsStack::Rustls.reason())
                    && unhooked
                        .reason
                        .contains("aws-lc's AEAD entry points not located: "),
                "{}",
                unhooked.reason
            );
        }
        assert!(cache.entries.is_empty());
    }

    /// Scenario: the aws-lc rustls test client stripped of its symbols
    /// (build-id kept) examined, then a copy, then a copy whose
    /// EVP_AEAD_CTX_seal starts with two `nop`s instead of `push %r13`
    /// under the same build-id and size, then the genuine copy again.
    /// Guarantees: the client is probed by structure at the finder's file
    /// offsets (seal and seal_scatter at entry, open at entry and return);
    /// the copy hits the cache; the doctored copy fails the cached code
    /// check, is examined and refused (seal's first instruction) as
    /// unhooked rustls, and leaves the entry intact for the genuine copy.
    #[test]
    fn located_aws_lc_is_cached_and_a_doctored_copy_is_not_trusted() {
        let client = aws_lc::test_client_path("aws-lc");
        let dir = tempfile::tempdir().unwrap();
        let stripped = dir.path().join("client");
        let status = Command::new("objcopy")
            .arg("--strip-all")
            .arg(&client)
            .arg(&stripped)
            .status()
            .expect("objcopy (binutils) strips the test client");
        assert!(status.success());
        let aead = aws_lc::find_aead_entry_points(&File::open(&stripped).unwrap()).unwrap();
        let scatter = aead
            .seal_scatter
            .as_ref()
            .expect("the client has seal_scatter");
        let mut cache = ExamCache::default();
        let (first, src) = conclude(&mut cache, &stripped);
        assert_eq!(src, Source::Examined);
        assert!(first.build_id.is_some());
        assert_eq!(first.unhooked, None);
        let probes = first.probes.clone().unwrap();
        assert_eq!(probes.method, ProbeMethod::AwsLcAeadStructure);
        let mut attached: Vec<(&str, u64)> = probes
            .attach
            .iter()
            .map(|a| (a.program, a.offset))
            .collect();
        attached.sort_unstable();
        let mut want = vec![
            (programs::AEAD_SEAL_ENTER, aead.seal.offset),
            (programs::AEAD_OPEN_ENTER, aead.open.offset),
            (programs::AEAD_OPEN_RET, aead.open.offset),
            (programs::AEAD_SEAL_SCATTER_ENTER, scatter.offset),
        ];
        want.sort_unstable();
        assert_eq!(attached, want);

        let copy = dir.path().join("copy");
        std::fs::copy(&stripped, &copy).unwrap();
        assert_eq!(conclude(&mut cache, &copy), (first.clone(), Source::Cache));

        let bad = doctored(&stripped, "doctored", aead.seal.offset, &[0x90, 0x90]);
        let (refused, src) = conclude(&mut cache, &bad);
        assert_eq!(src, Source::Examined);
        assert_eq!(refused.probes, None);
        let unhooked = refused.unhooked.unwrap();
        assert_eq!(unhooked.library, TlsStack::Rustls);
        assert!(
            unhooked
                .reason
                .contains("not located: the EVP_AEAD_CTX_seal candidate")
                && unhooked
                    .reason
                    .contains("its first instruction is not a push"),
            "{}",
            unhooked.reason
        );
        assert_eq!(conclude(&mut cache, &copy), (first, Source::Cache));
    }

    /// Scenario: stock Bun 1.4.5 (where the e2e set-up installed it)
    /// examined, then a copy, then a copy whose SSL_write raises reason 112
    /// instead of SSL_R_BAD_LENGTH (111) under the same build-id and size,
    /// then the genuine copy again.
    /// Guarantees: Bun is probed by structure at SSL_write and SSL_read;
    /// the copy hits; the doctored copy fails the cached site check, is
    /// examined and refused ("0 SSL_write candidates"), and leaves the
    /// entry intact for the genuine copy.
    #[test]
    fn bun_copy_hits_and_patched_bun_is_refused_without_poisoning_the_cache() {
        let Some(bun) = crate::ebpf::boringssl::stock_bun_path() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("bun");
        std::fs::copy(&bun, &copy).unwrap();
        let mut cache = ExamCache::default();
        let (first, src) = conclude(&mut cache, &bun);
        assert_eq!(src, Source::Examined);
        let probes = first.probes.unwrap();
        assert_eq!(probes.method, ProbeMethod::BoringSslStructure);
        assert_eq!(
            first.build_id.as_deref(),
            Some("b5188e4f53b53f3a346614bd78ba53f2ff234402")
        );
        let (again, src) = conclude(&mut cache, &copy);
        assert_eq!((again.probes.as_ref(), src), (Some(&probes), Source::Cache));

        let (site, bytes) = boringssl::locate(&File::open(&bun).unwrap())
            .unwrap()
            .bad_length_site;
        let imm = site + bytes.len() as u64 - 4;
        let patched = doctored(&copy, "bun-112", imm, &112u32.to_le_bytes());
        let (refused, src) = conclude(&mut cache, &patched);
        assert_eq!(src, Source::Examined);
        assert_eq!(refused.probes, None);
        let reason = refused.unhooked.unwrap().reason;
        assert!(reason.contains("0 SSL_write candidates"), "{reason}");

        let (again, src) = conclude(&mut cache, &copy);
        assert_eq!((again.probes, src), (Some(probes), Source::Cache));
    }
}
