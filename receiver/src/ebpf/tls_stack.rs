//! Recognising the TLS stack of a file that exports no OpenSSL
//! `SSL_write`/`SSL_read` but carries the marks of a statically linked TLS
//! library in its read-only data (the source file names BoringSSL passes
//! to `OPENSSL_PUT_ERROR`, the crate paths Rust panics name, Go's package
//! paths). Nothing is attached on the guess itself: for BoringSSL it sends
//! the file to [`boringssl`](super::boringssl)'s structural finder, and
//! whatever stays unprobed feeds the honest report ("this binary does TLS
//! and is not captured"); it also notes aws-lc's `aead.c` file name, for
//! which the examination asks [`aws_lc`] where aws-lc's
//! AEAD entry points are.
//!
//! Only the read-only, non-executable loaded segments are scanned (where
//! string literals live), with `pread` in bounded chunks and a total cap,
//! so a large binary costs a bounded read once per build (the result is
//! cached with the rest of the examination).

use std::fs::File;

use memchr::memmem;
use object::elf::{FileHeader64, PF_W, PF_X, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::read::ReadCache;
use object::Endianness;

use super::aws_lc;
use super::elf::bytes_at;

/// Bytes scanned at most per file.
const MAX_SCAN_BYTES: u64 = 256 << 20;
/// Bytes read per chunk.
const CHUNK: usize = 4 << 20;

/// A TLS library recognised in a binary (a bounded metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsStack {
    /// rustls (Rust), with whatever crypto provider.
    Rustls,
    /// BoringSSL, statically linked (Bun, Chromium-based programs).
    BoringSsl,
    /// AWS-LC's libssl, statically linked.
    AwsLc,
    /// Go's `crypto/tls`.
    GoCryptoTls,
}

impl TlsStack {
    /// Every stack, in the order a file is tested (first match wins: a
    /// rustls binary with the aws-lc-rs provider carries both marks).
    pub const ALL: [TlsStack; 4] = [
        TlsStack::Rustls,
        TlsStack::GoCryptoTls,
        TlsStack::AwsLc,
        TlsStack::BoringSsl,
    ];

    /// The metric label and log name.
    pub fn label(self) -> &'static str {
        match self {
            TlsStack::Rustls => "rustls",
            TlsStack::BoringSsl => "boringssl",
            TlsStack::AwsLc => "aws-lc",
            TlsStack::GoCryptoTls => "go-crypto-tls",
        }
    }

    /// Why it cannot be hooked, for the log line.
    pub fn reason(self) -> &'static str {
        match self {
            TlsStack::Rustls => {
                "rustls is compiled into the binary and exports no SSL_write/SSL_read to probe"
            }
            TlsStack::BoringSsl | TlsStack::AwsLc => {
                "its TLS library is statically linked without exported SSL_write/SSL_read symbols"
            }
            TlsStack::GoCryptoTls => "Go's crypto/tls has no exported functions to probe",
        }
    }

    /// Byte strings any of which marks the stack.
    fn marks(self) -> &'static [&'static [u8]] {
        match self {
            TlsStack::Rustls => &[b"rustls"],
            TlsStack::BoringSsl => &[b"ssl_lib.cc"],
            TlsStack::AwsLc => &[b"AWS-LC", b"aws-lc"],
            TlsStack::GoCryptoTls => &[b"crypto/tls.(*Conn)"],
        }
    }
}

/// What a file's read-only data shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Guess {
    /// The TLS stack it carries: the first of [`TlsStack::ALL`] whose marks
    /// are there.
    pub stack: Option<TlsStack>,
    /// Whether aws-lc's `crypto/fipsmodule/cipher/aead.c` file name is
    /// there, i.e. whether [`aws_lc`]'s finder has its
    /// starting point (checked in the same pass, so a rustls binary without
    /// aws-lc is not read again).
    pub aws_lc_aead: bool,
}

/// What `file`'s read-only data shows (nothing when it cannot be read).
pub(crate) fn guess(file: &File) -> Guess {
    scan(file).unwrap_or_default()
}

fn scan(file: &File) -> Option<Guess> {
    let ranges = rodata_ranges(file)?;
    let finders: Vec<(TlsStack, memmem::Finder<'static>)> = TlsStack::ALL
        .iter()
        .flat_map(|s| s.marks().iter().map(move |m| (*s, memmem::Finder::new(*m))))
        .collect();
    let aead_file_name = memmem::Finder::new(aws_lc::FILE_NAME_SUFFIX);
    let overlap = finders
        .iter()
        .map(|(_, f)| f.needle().len())
        .chain([aead_file_name.needle().len()])
        .max()?;
    let mut found: Vec<TlsStack> = Vec::new();
    let mut aws_lc_aead = false;
    let mut budget = MAX_SCAN_BYTES;
    for (start, len) in ranges {
        let mut at = start;
        let end = start.saturating_add(len);
        while at < end && budget > 0 {
            let want = usize::try_from((end - at).min(budget)).ok()?.min(CHUNK);
            let chunk = bytes_at(file, at, want)?;
            if chunk.is_empty() {
                break;
            }
            for (stack, finder) in &finders {
                if !found.contains(stack) && finder.find(&chunk).is_some() {
                    found.push(*stack);
                }
            }
            aws_lc_aead = aws_lc_aead || aead_file_name.find(&chunk).is_some();
            let step = u64::try_from(chunk.len().saturating_sub(overlap).max(1)).ok()?;
            at += step;
            budget = budget.saturating_sub(step);
        }
    }
    Some(Guess {
        stack: TlsStack::ALL.into_iter().find(|s| found.contains(s)),
        aws_lc_aead,
    })
}

/// (file offset, size) of the loaded segments that are neither writable
/// nor executable.
fn rodata_ranges(file: &File) -> Option<Vec<(u64, u64)>> {
    let cache = ReadCache::new(file);
    let data = &cache;
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    Some(
        header
            .program_headers(endian, data)
            .ok()?
            .iter()
            .filter(|p| p.p_type(endian) == PT_LOAD && p.p_flags(endian) & (PF_W | PF_X) == 0)
            .map(|p| (p.p_offset(endian), p.p_filesz(endian)))
            .collect(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Builds a small static, stripped executable whose read-only data
    /// holds `text` (a string literal it prints, so it is kept).
    fn fixture(dir: &Path, name: &str, text: &str) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        std::fs::write(
            &src,
            format!("#include <stdio.h>\nint main(void) {{ puts(\"{text}\"); return 0; }}\n"),
        )
        .unwrap();
        let out = dir.join(name);
        let status = Command::new("cc")
            .args(["-static", "-s", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc builds the ELF fixtures");
        assert!(status.success());
        out
    }

    fn guess_path(path: &Path) -> Option<TlsStack> {
        guess(&File::open(path).unwrap()).stack
    }

    /// Scenario: static stripped binaries whose strings name
    /// ".../rustls-0.23.31/src/conn.rs", "third_party/boringssl/ssl/ssl_lib.cc",
    /// both aws-lc and rustls, Go's crypto/tls, and one with none of these
    /// (only OpenSSL's "ssl/ssl_lib.c"); a text file.
    /// Guarantees: each is classified as its stack (rustls wins over
    /// aws-lc, as in a rustls + aws-lc-rs client); the others are not.
    #[test]
    fn static_binaries_are_classified() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "rustls",
                "/cargo/registry/rustls-0.23.31/src/conn.rs",
                Some(TlsStack::Rustls),
            ),
            (
                "bssl",
                "third_party/boringssl/ssl/ssl_lib.cc",
                Some(TlsStack::BoringSsl),
            ),
            (
                "both",
                "aws-lc-sys-0.29/aws-lc/crypto rustls-0.23",
                Some(TlsStack::Rustls),
            ),
            ("awslc", "AWS-LC FIPS 3.0", Some(TlsStack::AwsLc)),
            (
                "go",
                "crypto/tls.(*Conn).Write",
                Some(TlsStack::GoCryptoTls),
            ),
            ("plain", "ssl/ssl_lib.c", None),
        ];
        for (name, text, want) in cases {
            let bin = fixture(dir.path(), name, text);
            assert_eq!(guess_path(&bin), want, "{name}");
        }
        let text = dir.path().join("t.txt");
        std::fs::write(&text, b"rustls but not an ELF file").unwrap();
        assert_eq!(guess_path(&text), None);
    }

    /// Scenario: static binaries naming rustls only; rustls and aws-lc's
    /// ".../crypto/fipsmodule/cipher/aead.c"; BoringSSL's "aead.cc.inc".
    /// Guarantees: only the second is flagged for the aws-lc AEAD finder.
    #[test]
    fn aws_lc_aead_file_name_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("rustls", "rustls-0.23.31/src/conn.rs", false),
            (
                "awslc",
                "rustls-0.23.31 /aws-lc/crypto/fipsmodule/cipher/aead.c",
                true,
            ),
            (
                "bssl",
                "../../vendor/boringssl/crypto/fipsmodule/cipher/aead.cc.inc",
                false,
            ),
        ];
        for (name, text, want) in cases {
            let bin = fixture(dir.path(), name, text);
            assert_eq!(
                guess(&File::open(&bin).unwrap()).aws_lc_aead,
                want,
                "{name}"
            );
        }
    }

    /// Scenario: /bin/ls and the system libssl.so.3.
    /// Guarantees: neither is taken for an unhookable stack.
    #[test]
    fn ordinary_files_are_not_flagged() {
        assert_eq!(guess_path(Path::new("/bin/ls")), None);
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        if lib.exists() {
            assert_eq!(guess_path(lib), None);
        }
    }
}
