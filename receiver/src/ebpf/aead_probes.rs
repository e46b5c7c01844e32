//! Where aws-lc's AEAD entry points are in a file, and the uprobes that go
//! there (`receiver-ebpf/src/bpf/aead.bpf.h`): rustls with the aws-lc-rs
//! provider seals and opens every TLS record with `EVP_AEAD_CTX_seal`,
//! `EVP_AEAD_CTX_seal_scatter` (TLS 1.2 AES-GCM writes) and
//! `EVP_AEAD_CTX_open`, so those three functions see all its plaintext.
//!
//! [`aead_entry_points`] is the one place that answers "where": today from
//! the file's symbol table (`.symtab`, else `.dynsym`), where aws-lc-sys
//! names the functions `aws_lc_<version>_EVP_AEAD_CTX_seal` and a plain
//! aws-lc build `EVP_AEAD_CTX_seal`. Stripped binaries (Codex CLI) keep
//! no symbols; the structural finder (`aws_lc.rs`, located by the
//! `ERR_put_error` sites of `aead.c`) answers for them behind this same
//! function. Everything after it (cache, attach, kernel) only sees file
//! offsets.
//!
//! The symbol lookup reads one symbol table and its strings with two
//! `pread`s through the open file, bounded by [`MAX_SYMBOL_TABLE_BYTES`]
//! (a 320 MB debug build of oispd: 22 MB), and walks them in memory; only
//! the headers are read besides. Which functions to probe and the symbol naming are
//! oispd's own knowledge, so this is written here; ELF parsing is
//! `object`'s.

use std::fs::File;

use object::elf::{FileHeader64, PT_LOAD, SHN_UNDEF, SHT_DYNSYM, SHT_SYMTAB, STT_FUNC};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::read::ReadCache;
use object::Endianness;
use oispd_receiver_ebpf::programs;

use super::elf::{bytes_at, Attach};

/// A symbol table (with its strings) larger than this is not read.
const MAX_SYMBOL_TABLE_BYTES: u64 = 64 << 20;
/// The symbol names' common prefix in aws-lc-sys builds.
const AWS_LC_SYS_PREFIX: &[u8] = b"aws_lc_";

/// File offsets (ready for a uprobe) of aws-lc's AEAD entry points in one
/// file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AeadEntryPoints {
    /// `EVP_AEAD_CTX_seal`.
    pub seal: u64,
    /// `EVP_AEAD_CTX_open`.
    pub open: u64,
    /// `EVP_AEAD_CTX_seal_scatter`, when the file has it.
    pub seal_scatter: Option<u64>,
}

impl AeadEntryPoints {
    /// The uprobes: seal and seal_scatter at entry, open at entry and return.
    pub(crate) fn attach_points(&self) -> Vec<Attach> {
        let mut points = vec![
            Attach {
                program: programs::AEAD_SEAL_ENTER,
                offset: self.seal,
            },
            Attach {
                program: programs::AEAD_OPEN_ENTER,
                offset: self.open,
            },
            Attach {
                program: programs::AEAD_OPEN_RET,
                offset: self.open,
            },
        ];
        if let Some(offset) = self.seal_scatter {
            points.push(Attach {
                program: programs::AEAD_SEAL_SCATTER_ENTER,
                offset,
            });
        }
        points
    }
}

/// Why a file's AEAD entry points were not found.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AeadNotFound {
    /// Not a little-endian 64-bit ELF file, or its headers cannot be read.
    #[error("not a readable little-endian 64-bit ELF file")]
    NotElf,
    /// No symbol table names them (a stripped binary).
    #[error("no EVP_AEAD_CTX_seal/EVP_AEAD_CTX_open symbols (stripped)")]
    NoSymbols,
    /// The symbol table is over [`MAX_SYMBOL_TABLE_BYTES`].
    #[error("symbol table of {0} bytes not read")]
    SymbolTableTooLarge(u64),
    /// A function is defined at more than one address.
    #[error("{0} is defined more than once")]
    Ambiguous(&'static str),
    /// A symbol's address is outside the file's loaded segments.
    #[error("{0} is not in a loaded segment")]
    NotLoaded(&'static str),
}

/// The functions looked up, in [`Found`] order.
const NAMES: [&str; 3] = [
    "EVP_AEAD_CTX_seal",
    "EVP_AEAD_CTX_open",
    "EVP_AEAD_CTX_seal_scatter",
];

/// Virtual address per name of [`NAMES`].
type Found = [Option<u64>; NAMES.len()];

/// Where aws-lc's AEAD entry points are in `file`, as file offsets.
pub(crate) fn aead_entry_points(file: &File) -> Result<AeadEntryPoints, AeadNotFound> {
    let cache = ReadCache::new(file);
    let data = &cache;
    let header = FileHeader64::<Endianness>::parse(data).map_err(|_| AeadNotFound::NotElf)?;
    let endian = header
        .endian()
        .ok()
        .filter(|e| *e == Endianness::Little)
        .ok_or(AeadNotFound::NotElf)?;
    let sections = header
        .sections(endian, data)
        .map_err(|_| AeadNotFound::NotElf)?;
    let mut found: Found = [None; NAMES.len()];
    for kind in [SHT_SYMTAB, SHT_DYNSYM] {
        let Some(table) = sections.iter().find(|s| s.sh_type(endian) == kind) else {
            continue;
        };
        let strings = sections
            .section(object::SectionIndex(table.sh_link(endian) as usize))
            .map(|s| s.sh_size(endian))
            .unwrap_or(0);
        let size = table.sh_size(endian).saturating_add(strings);
        if size > MAX_SYMBOL_TABLE_BYTES {
            return Err(AeadNotFound::SymbolTableTooLarge(size));
        }
        let link = table.sh_link(endian) as usize;
        let (Some(symbols), Some(names)) = (
            section_bytes(file, table, endian),
            sections
                .section(object::SectionIndex(link))
                .ok()
                .and_then(|s| section_bytes(file, s, endian)),
        ) else {
            continue;
        };
        for (name, vaddr) in functions(&symbols, &names) {
            let Some(i) = NAMES.iter().position(|n| names_function(name, n)) else {
                continue;
            };
            match found[i] {
                Some(seen) if seen != vaddr => return Err(AeadNotFound::Ambiguous(NAMES[i])),
                _ => found[i] = Some(vaddr),
            }
        }
        if found[0].is_some() && found[1].is_some() {
            break;
        }
    }
    let [Some(seal), Some(open), seal_scatter] = found else {
        return Err(AeadNotFound::NoSymbols);
    };
    let segments: Vec<(u64, u64, u64)> = header
        .program_headers(endian, data)
        .map_err(|_| AeadNotFound::NotElf)?
        .iter()
        .filter(|p| p.p_type(endian) == PT_LOAD)
        .map(|p| (p.p_vaddr(endian), p.p_filesz(endian), p.p_offset(endian)))
        .collect();
    let offset = |vaddr: u64, name: &'static str| {
        segments
            .iter()
            .find(|(addr, size, _)| vaddr >= *addr && vaddr - addr < *size)
            .map(|(addr, _, offset)| vaddr - addr + offset)
            .ok_or(AeadNotFound::NotLoaded(name))
    };
    Ok(AeadEntryPoints {
        seal: offset(seal, NAMES[0])?,
        open: offset(open, NAMES[1])?,
        seal_scatter: seal_scatter
            .map(|vaddr| offset(vaddr, NAMES[2]))
            .transpose()?,
    })
}

/// The bytes of a section, read in one `pread` (the caller bounds its size).
fn section_bytes(
    file: &File,
    section: &object::elf::SectionHeader64<Endianness>,
    endian: Endianness,
) -> Option<Vec<u8>> {
    let size = usize::try_from(section.sh_size(endian)).ok()?;
    let bytes = bytes_at(file, section.sh_offset(endian), size)?;
    (bytes.len() == size).then_some(bytes)
}

/// Size of an ELF64 symbol table entry.
const SYM64_SIZE: usize = 24;

/// (name, value) of the defined functions of a little-endian ELF64 symbol
/// table (`symbols`) whose names are in `names`. Parsed here from two
/// buffers: a walk through `object`'s reader costs a read per name, and a
/// debug build's table has hundreds of thousands.
fn functions<'a>(symbols: &'a [u8], names: &'a [u8]) -> impl Iterator<Item = (&'a [u8], u64)> {
    symbols.chunks_exact(SYM64_SIZE).filter_map(move |e| {
        let name_at = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as usize;
        let (info, shndx) = (e[4], u16::from_le_bytes([e[6], e[7]]));
        if info & 0xf != STT_FUNC || shndx == SHN_UNDEF {
            return None;
        }
        let value = u64::from_le_bytes([e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15]]);
        let rest = names.get(name_at..)?;
        let name = &rest[..memchr::memchr(0, rest)?];
        Some((name, value))
    })
}

/// Whether the symbol `name` is aws-lc's `function`: plain, or with
/// aws-lc-sys' `aws_lc_<version>_` prefix.
fn names_function(name: &[u8], function: &str) -> bool {
    let function = function.as_bytes();
    if name == function {
        return true;
    }
    name.starts_with(AWS_LC_SYS_PREFIX)
        && name.len() > AWS_LC_SYS_PREFIX.len() + function.len()
        && name.ends_with(function)
        && name[name.len() - function.len() - 1] == b'_'
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Where `scripts/build-test-clients.sh` puts the rustls + aws-lc-rs
    /// test client (symbols kept).
    const TEST_CLIENT: &str = "/var/tmp/oispd-test-clients/rustls-client-aws-lc";

    /// Scenario: symbol names of aws-lc-sys 0.22 and 0.47, plain aws-lc,
    /// and near misses.
    /// Guarantees: only the function itself, plain or prefixed, matches.
    #[test]
    fn symbol_names_are_matched_exactly() {
        let seal = "EVP_AEAD_CTX_seal";
        for yes in [
            "EVP_AEAD_CTX_seal",
            "aws_lc_0_47_0_EVP_AEAD_CTX_seal",
            "aws_lc_0_22_0_EVP_AEAD_CTX_seal",
        ] {
            assert!(names_function(yes.as_bytes(), seal), "{yes}");
        }
        for no in [
            "aws_lc_0_47_0_EVP_AEAD_CTX_seal_scatter",
            "EVP_AEAD_CTX_seal_scatter",
            "aws_lc_EVP_AEAD_CTX_seal_x",
            "my_EVP_AEAD_CTX_seal",
            "aws_lc_0_47_0xEVP_AEAD_CTX_seal",
            "aws_lc_EVP_AEAD_CTX_seal",
        ] {
            assert!(!names_function(no.as_bytes(), seal), "{no}");
        }
    }

    /// Builds a shared object defining the AEAD functions under `prefix`,
    /// with or without seal_scatter, linked so that its code is mapped at
    /// a different address than its file offset.
    fn fixture(dir: &Path, name: &str, prefix: &str, scatter: bool) -> PathBuf {
        let src = dir.join(format!("{name}.c"));
        let mut c = format!(
            "int {prefix}EVP_AEAD_CTX_seal(void *c) {{ return 1; }}\n\
             int {prefix}EVP_AEAD_CTX_open(void *c) {{ return 2; }}\n\
             int {prefix}EVP_AEAD_CTX_open_gather(void *c) {{ return 3; }}\n"
        );
        if scatter {
            c.push_str(&format!(
                "int {prefix}EVP_AEAD_CTX_seal_scatter(void *c) {{ return 4; }}\n"
            ));
        }
        std::fs::write(&src, c).unwrap();
        let out = dir.join(format!("{name}.so"));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-Wl,-z,separate-code", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc builds the ELF fixtures");
        assert!(status.success());
        out
    }

    /// The file offset `nm` and `readelf` give for a symbol (the
    /// reference the finder is compared with).
    fn reference_offset(path: &Path, symbol: &str) -> u64 {
        let nm = Command::new("nm").arg(path).output().unwrap();
        let text = String::from_utf8_lossy(&nm.stdout).into_owned();
        let vaddr = text
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[2] == symbol).then(|| u64::from_str_radix(f[0], 16).unwrap())
            })
            .unwrap_or_else(|| panic!("{symbol} not in nm output"));
        let readelf = Command::new("readelf").args(["-lW"]).arg(path).output();
        let text = String::from_utf8_lossy(&readelf.unwrap().stdout).into_owned();
        text.lines()
            .filter(|l| l.trim_start().starts_with("LOAD"))
            .find_map(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .skip(1)
                    .take(5)
                    .map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
                    .collect();
                let (offset, vaddr_start, filesz) = (f[0], f[1], f[3]);
                (vaddr >= vaddr_start && vaddr < vaddr_start + filesz)
                    .then(|| vaddr - vaddr_start + offset)
            })
            .unwrap()
    }

    /// Scenario: shared objects with aws-lc-sys' prefixed names (with
    /// seal_scatter) and plain names (without), then the same stripped.
    /// Guarantees: each offset is the symbol's file offset as nm + readelf
    /// compute it (through PT_LOAD); seal_scatter is optional; the attach
    /// points are seal and seal_scatter at entry, open at entry and
    /// return; a stripped copy is refused as stripped.
    #[test]
    fn entry_points_by_symbol_are_file_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let prefixed = fixture(dir.path(), "prefixed", "aws_lc_0_47_0_", true);
        let found = aead_entry_points(&File::open(&prefixed).unwrap()).unwrap();
        let want = |s: &str| reference_offset(&prefixed, &format!("aws_lc_0_47_0_{s}"));
        assert_eq!(found.seal, want("EVP_AEAD_CTX_seal"));
        assert_eq!(found.open, want("EVP_AEAD_CTX_open"));
        assert_eq!(found.seal_scatter, Some(want("EVP_AEAD_CTX_seal_scatter")));
        let points = found.attach_points();
        let at = |p: &str| points.iter().find(|a| a.program == p).map(|a| a.offset);
        assert_eq!(at(programs::AEAD_SEAL_ENTER), Some(found.seal));
        assert_eq!(at(programs::AEAD_OPEN_ENTER), Some(found.open));
        assert_eq!(at(programs::AEAD_OPEN_RET), Some(found.open));
        assert_eq!(at(programs::AEAD_SEAL_SCATTER_ENTER), found.seal_scatter);

        let plain = fixture(dir.path(), "plain", "", false);
        let found = aead_entry_points(&File::open(&plain).unwrap()).unwrap();
        assert_eq!(found.seal, reference_offset(&plain, "EVP_AEAD_CTX_seal"));
        assert_eq!(found.open, reference_offset(&plain, "EVP_AEAD_CTX_open"));
        assert_eq!(found.seal_scatter, None);
        assert_eq!(found.attach_points().len(), 3);

        let stripped = dir.path().join("stripped.so");
        let status = Command::new("strip")
            .arg("--strip-all")
            .arg(&plain)
            .arg("-o")
            .arg(&stripped)
            .status()
            .unwrap();
        assert!(status.success());
        // A shared object keeps its exported functions in .dynsym.
        assert!(aead_entry_points(&File::open(&stripped).unwrap()).is_ok());
    }

    /// Scenario: this test binary (oispd links no aws-lc), a text file.
    /// Guarantees: refused as having no such symbols, and as not ELF.
    #[test]
    fn files_without_aws_lc_are_refused() {
        let exe = File::open(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(aead_entry_points(&exe), Err(AeadNotFound::NoSymbols));
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), b"EVP_AEAD_CTX_seal").unwrap();
        assert_eq!(
            aead_entry_points(&File::open(text.path()).unwrap()),
            Err(AeadNotFound::NotElf)
        );
    }

    /// Scenario: the aws-lc test client (rustls + aws-lc-rs, symbols kept)
    /// and a copy stripped of every symbol.
    /// Guarantees: the client's three entry points are the file offsets of
    /// its `aws_lc_*_EVP_AEAD_CTX_*` symbols (its code is mapped 0x1000
    /// above its file offsets); the stripped copy is refused as stripped.
    #[test]
    fn test_client_entry_points() {
        let client = Path::new(TEST_CLIENT);
        assert!(
            client.exists(),
            "{} is missing: build it with scripts/build-test-clients.sh",
            client.display()
        );
        let found = aead_entry_points(&File::open(client).unwrap()).unwrap();
        let nm = Command::new("nm").arg(client).output().unwrap();
        let text = String::from_utf8_lossy(&nm.stdout).into_owned();
        let symbol = |suffix: &str| {
            text.lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() == 3 && names_function(f[2].as_bytes(), suffix)).then(|| f[2])
                })
                .unwrap()
                .to_string()
        };
        assert_eq!(
            found.seal,
            reference_offset(client, &symbol("EVP_AEAD_CTX_seal"))
        );
        assert_eq!(
            found.open,
            reference_offset(client, &symbol("EVP_AEAD_CTX_open"))
        );
        assert_eq!(
            found.seal_scatter,
            Some(reference_offset(
                client,
                &symbol("EVP_AEAD_CTX_seal_scatter")
            ))
        );
        let dir = tempfile::tempdir().unwrap();
        let stripped = dir.path().join("client");
        let status = Command::new("strip")
            .arg("--strip-all")
            .arg(client)
            .arg("-o")
            .arg(&stripped)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            aead_entry_points(&File::open(&stripped).unwrap()),
            Err(AeadNotFound::NoSymbols)
        );
    }
}
