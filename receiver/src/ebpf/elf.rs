//! Finding OpenSSL's `SSL_*` functions in an ELF file and where to put
//! their uprobes: the exported (dynamic) symbols, looked up through the
//! file's `.gnu.hash` (or SysV `.hash`) table so a 38k-symbol node binary
//! costs a handful of probes, not a walk of its `.dynsym`; the first bytes
//! of their code for [`probe_points`](super::probe_points); the file
//! offsets uprobes attach to; and the GNU build-id that keys the
//! examination cache. Only the ELF header, the program and section headers,
//! the hash and dynamic symbol tables, a note and a few hundred bytes of
//! code are read, with `pread` through an already open file (never mapped:
//! a file its owner truncates while we read would kill a mapping reader
//! with SIGBUS; a short `pread` is just an error).

use std::fs::File;

use object::elf::{FileHeader64, EM_X86_64, NT_GNU_BUILD_ID, PT_LOAD, SHT_DYNSYM, SHT_NOTE};
use object::read::elf::{
    FileHeader, ProgramHeader, SectionHeader, SectionTable, Sym, SymbolTable, VersionTable,
};
use object::read::ReadCache;
use object::{Endianness, ReadRef};

use super::probe_points::{plan, Func, SslFuncs};

/// One uprobe of a file: a program at a file offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attach {
    /// The eBPF program.
    pub program: &'static str,
    /// File offset of the probed instruction.
    pub offset: u64,
}

/// The exported functions the probes need, in lookup order.
const WANTED: [&[u8]; 5] = [
    b"SSL_write",
    b"SSL_read",
    b"SSL_write_ex",
    b"SSL_read_ex",
    b"SSL_free",
];

/// A build-id note larger than this is not one (SHA-1 ids are 20 bytes).
const MAX_BUILD_ID_NOTE: u64 = 4096;

/// The uprobes `file` needs: `None` when it does not export both
/// `SSL_write` and `SSL_read`, is not a 64-bit ELF file, or cannot be read.
pub(crate) fn ssl_probes(file: &File) -> Option<Vec<Attach>> {
    let cache = ReadCache::new(file);
    probes(&cache, Lookup::Hash)
}

/// The file's GNU build-id (`NT_GNU_BUILD_ID` note), if it has one. Only
/// small `SHT_NOTE` sections are read: a Node single-executable app carries
/// its whole application blob in a note.
pub(crate) fn build_id(file: &File) -> Option<Vec<u8>> {
    let cache = ReadCache::new(file);
    let data = &cache;
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    sections
        .iter()
        .filter(|s| s.sh_type(endian) == SHT_NOTE && s.sh_size(endian) <= MAX_BUILD_ID_NOTE)
        .find_map(|s| {
            let mut notes = s.notes(endian, data).ok()??;
            while let Ok(Some(note)) = notes.next() {
                if note.n_type(endian) == NT_GNU_BUILD_ID && note.name() == b"GNU" {
                    return Some(note.desc().to_vec());
                }
            }
            None
        })
}

/// The bytes of `file` at `offset`, up to `len` (fewer at the end of the file).
pub(crate) fn bytes_at(file: &File, offset: u64, len: usize) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    let n = file.read_at(&mut buf, offset).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// How the exported functions are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    /// Through `.gnu.hash` or `.hash`; a walk of `.dynsym` only when the
    /// file has neither.
    Hash,
    /// A walk of every `.dynsym` entry (the reference the tests compare with).
    #[cfg(test)]
    Walk,
}

/// The wanted functions' (vaddr, size), in [`WANTED`] order.
type Found = [Option<(u64, u64)>; WANTED.len()];

fn find_by_hash<'data, R: ReadRef<'data>>(
    endian: Endianness,
    data: R,
    sections: &SectionTable<'data, FileHeader64<Endianness>, R>,
    symbols: &SymbolTable<'data, FileHeader64<Endianness>, R>,
) -> Option<Found> {
    let versions = VersionTable::default();
    let mut found: Found = [None; WANTED.len()];
    if let Ok(Some((table, _))) = sections.gnu_hash(endian, data) {
        for (slot, name) in found.iter_mut().zip(WANTED) {
            let hash = object::elf::gnu_hash(name);
            *slot = table
                .find(endian, name, hash, None, symbols, &versions)
                .filter(|(_, s)| s.is_definition(endian, symbols.strings()))
                .map(|(_, s)| (s.st_value(endian), s.st_size(endian)));
        }
        return Some(found);
    }
    if let Ok(Some((table, _))) = sections.hash(endian, data) {
        for (slot, name) in found.iter_mut().zip(WANTED) {
            let hash = object::elf::hash(name);
            *slot = table
                .find(endian, name, hash, None, symbols, &versions)
                .filter(|(_, s)| s.is_definition(endian, symbols.strings()))
                .map(|(_, s)| (s.st_value(endian), s.st_size(endian)));
        }
        return Some(found);
    }
    None
}

fn find_by_walk<'data, R: ReadRef<'data>>(
    endian: Endianness,
    symbols: &SymbolTable<'data, FileHeader64<Endianness>, R>,
) -> Found {
    let mut found: Found = [None; WANTED.len()];
    for sym in symbols.iter() {
        if !sym.is_definition(endian, symbols.strings()) {
            continue;
        }
        let Ok(name) = sym.name(endian, symbols.strings()) else {
            continue;
        };
        if let Some(i) = WANTED.iter().position(|w| *w == name) {
            found[i] = Some((sym.st_value(endian), sym.st_size(endian)));
        }
    }
    found
}

fn probes<'data, R: ReadRef<'data>>(data: R, lookup: Lookup) -> Option<Vec<Attach>> {
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    // (vaddr, file size, file offset) of the loaded segments.
    let segments: Vec<(u64, u64, u64)> = header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .filter(|p| p.p_type(endian) == PT_LOAD)
        .map(|p| (p.p_vaddr(endian), p.p_filesz(endian), p.p_offset(endian)))
        .collect();
    // (file offset, bytes of the segment left from there) of a virtual address.
    let locate = |vaddr: u64| -> Option<(u64, u64)> {
        segments
            .iter()
            .find(|(addr, size, _)| vaddr >= *addr && vaddr - addr < *size)
            .map(|(addr, size, offset)| (vaddr - addr + offset, size - (vaddr - addr)))
    };
    let sections = header.sections(endian, data).ok()?;
    let symbols = sections.symbols(endian, data, SHT_DYNSYM).ok()?;
    let found = match lookup {
        Lookup::Hash => find_by_hash(endian, data, &sections, &symbols)
            .unwrap_or_else(|| find_by_walk(endian, &symbols)),
        #[cfg(test)]
        Lookup::Walk => find_by_walk(endian, &symbols),
    };
    let [write, read, write_ex, read_ex, free] = found.map(|f| {
        f.filter(|(vaddr, _)| locate(*vaddr).is_some())
            .map(|(vaddr, size)| Func { vaddr, size })
    });
    let funcs = SslFuncs {
        write: write?,
        read: read?,
        write_ex,
        read_ex,
        free,
    };
    let code = |vaddr: u64, len: usize| -> Option<Vec<u8>> {
        let (offset, left) = locate(vaddr)?;
        let len = u64::try_from(len).ok()?.min(left);
        data.read_bytes_at(offset, len).ok().map(<[u8]>::to_vec)
    };
    let x86_64 = header.e_machine(endian) == EM_X86_64;
    plan(&funcs, x86_64, code)
        .into_iter()
        .map(|p| {
            locate(p.vaddr).map(|(offset, _)| Attach {
                program: p.program,
                offset,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ebpf::probe_points::{first_insn_emulated, forward_target, PROLOGUE_BYTES};
    use oispd_receiver_ebpf::programs;
    use std::os::unix::fs::FileExt;
    use std::path::Path;
    use std::process::Command;
    use std::time::Instant;

    fn open(path: &Path) -> File {
        File::open(path).unwrap()
    }

    /// The probes found by walking every `.dynsym` entry (the old way).
    fn probes_by_walk(file: &File) -> Option<Vec<Attach>> {
        probes(&ReadCache::new(file), Lookup::Walk)
    }

    /// Scenario: this test binary (no OpenSSL), a text file.
    /// Guarantees: not candidates, and neither has a probe by either lookup.
    #[test]
    fn binary_without_openssl_is_not_a_candidate() {
        let exe = open(&std::env::current_exe().unwrap());
        assert_eq!(ssl_probes(&exe), None);
        assert_eq!(probes_by_walk(&exe), None);
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), b"not an ELF file").unwrap();
        assert_eq!(ssl_probes(&open(text.path())), None);
        assert_eq!(build_id(&open(text.path())), None);
    }

    /// Builds a small shared object exporting `SSL_write`/`SSL_read` (and
    /// many decoys) with the given `--hash-style`.
    fn fixture_so(dir: &Path, hash_style: &str) -> std::path::PathBuf {
        let src = dir.join("fixture.c");
        let mut c = String::from(
            "int SSL_write(void *s, const void *b, int n) { return n + 1; }\n\
             int SSL_read(void *s, void *b, int n) { return n + 2; }\n\
             void SSL_free(void *s) { }\n",
        );
        for i in 0..500 {
            c.push_str(&format!("int decoy_{i}(int x) {{ return x * {i}; }}\n"));
        }
        std::fs::write(&src, c).unwrap();
        let out = dir.join(format!("libfixture-{hash_style}.so"));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-Wl,--build-id=sha1"])
            .arg(format!("-Wl,--hash-style={hash_style}"))
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc is needed to build the ELF fixtures (scripts/setup.sh installs it)");
        assert!(status.success());
        out
    }

    /// Scenario: a small shared object exporting SSL_write, SSL_read and
    /// SSL_free among 500 decoys, built once with only `.gnu.hash` and once
    /// with only the SysV `.hash`.
    /// Guarantees: the hash lookups find exactly what the full `.dynsym`
    /// walk finds (same probes, same offsets), and the build-id is the one
    /// `readelf -n` prints.
    #[test]
    fn hash_lookup_matches_walk_on_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        for style in ["gnu", "sysv"] {
            let so = fixture_so(dir.path(), style);
            let file = open(&so);
            let fast = ssl_probes(&file).expect("fixture exports SSL_write and SSL_read");
            assert_eq!(Some(fast.clone()), probes_by_walk(&file), "{style}");
            assert!(fast.iter().any(|a| a.program == programs::SSL_FREE_ENTER));
            let readelf = Command::new("readelf").arg("-n").arg(&so).output().unwrap();
            let text = String::from_utf8_lossy(&readelf.stdout).into_owned();
            let id: String = build_id(&file)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(text.contains(&format!("Build ID: {id}")), "{text}");
        }
    }

    /// Scenario: /usr/bin/node (a 38k-symbol .dynsym with a static,
    /// exported OpenSSL), where present.
    /// Guarantees: the `.gnu.hash` lookup yields the same probes as the
    /// full walk. Prints both durations (measurement, not asserted).
    #[test]
    fn hash_lookup_matches_walk_on_node() {
        let node = Path::new("/usr/bin/node");
        if !node.exists() {
            return;
        }
        let file = open(node);
        let t = Instant::now();
        let fast = ssl_probes(&file);
        let fast_time = t.elapsed();
        let t = Instant::now();
        let slow = probes_by_walk(&file);
        let slow_time = t.elapsed();
        assert!(fast.is_some());
        assert_eq!(fast, slow);
        eprintln!("node examination: hash lookup {fast_time:?}, dynsym walk {slow_time:?}");
    }

    fn code_at(file: &File, offset: u64) -> Vec<u8> {
        let mut buf = vec![0u8; PROLOGUE_BYTES];
        let n = file.read_at(&mut buf, offset).unwrap();
        buf.truncate(n);
        buf
    }

    /// Scenario: the system libssl.so.3, where present.
    /// Guarantees: both directions are probed with entry and return at the
    /// same place, SSL_free too; every `_ex` probe sits on an instruction the
    /// kernel emulates whenever the exported function forwards to one (as
    /// Debian's OpenSSL 3.0 does), and the plain functions are then left to
    /// that probe.
    #[test]
    fn system_libssl_probes() {
        let lib = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        if !lib.exists() {
            return;
        }
        let probes = ssl_probes(&open(lib)).expect("libssl exports SSL_write");
        assert_eq!(Some(probes.clone()), probes_by_walk(&open(lib)));
        let file = File::open(lib).unwrap();
        let len = file.metadata().unwrap().len();
        let at = |program: &str| -> Vec<u64> {
            probes
                .iter()
                .filter(|a| a.program == program)
                .map(|a| a.offset)
                .collect()
        };
        assert!(probes.iter().all(|a| a.offset < len));
        let ex = [
            at(programs::SSL_WRITE_EX_ENTER),
            at(programs::SSL_READ_EX_ENTER),
        ]
        .concat();
        assert_eq!(ex.len(), 2);
        assert_eq!(at(programs::SSL_EX_RET), ex);
        assert_eq!(at(programs::SSL_FREE_ENTER).len(), 1);
        let plain = [at(programs::SSL_WRITE_ENTER), at(programs::SSL_READ_ENTER)].concat();
        assert_eq!(at(programs::SSL_RET), plain);

        // Where SSL_*_ex only forward (sub $8,%rsp; call internal), the
        // probes are on the internal functions' first instructions.
        let forwards = |name: &str| {
            let nm = std::process::Command::new("nm")
                .args(["-D", "--defined-only"])
                .arg(lib)
                .output();
            let Ok(nm) = nm else { return None };
            let text = String::from_utf8_lossy(&nm.stdout).into_owned();
            let addr = text.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (a, _, n) = (f.next()?, f.next()?, f.next()?);
                (n.split('@').next() == Some(name)).then(|| u64::from_str_radix(a, 16).ok())?
            })?;
            let code = code_at(&file, addr);
            (!first_insn_emulated(&code)).then(|| forward_target(&code, addr))?
        };
        if forwards("SSL_write_ex").is_some() && forwards("SSL_read_ex").is_some() {
            for offset in &ex {
                assert!(first_insn_emulated(&code_at(&file, *offset)), "{offset:#x}");
            }
            assert!(plain.is_empty(), "{plain:x?}");
        }
    }
}
