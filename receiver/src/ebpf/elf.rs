//! Finding OpenSSL's `SSL_*` functions in an ELF file and where to put
//! their uprobes: the exported (dynamic) symbols, the first bytes of their
//! code for [`probe_points`](super::probe_points), and the file offsets
//! uprobes attach to. Only the ELF header, the program and section headers,
//! the dynamic symbol table and a few hundred bytes of code are read (node's
//! binary is over 100 MB; large libraries carry multi-megabyte `.symtab`s
//! that are never needed here).

use std::fs::File;
use std::io;
use std::path::Path;

use object::elf::{FileHeader64, EM_X86_64, PT_LOAD, SHT_DYNSYM};
use object::read::elf::{FileHeader, ProgramHeader, Sym};
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

/// The uprobes `path` needs: `Ok(None)` when it does not export both
/// `SSL_write` and `SSL_read` or is not a 64-bit ELF file, an error when it
/// cannot be opened.
pub(crate) fn ssl_probes(path: &Path) -> io::Result<Option<Vec<Attach>>> {
    let cache = ReadCache::new(File::open(path)?);
    Ok(probes(&cache))
}

fn probes<'data, R: ReadRef<'data>>(data: R) -> Option<Vec<Attach>> {
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

    let (mut write, mut read, mut write_ex, mut read_ex, mut free) = (None, None, None, None, None);
    for sym in symbols.iter() {
        if !sym.is_definition(endian, symbols.strings()) {
            continue;
        }
        let slot = match sym.name(endian, symbols.strings()) {
            Ok(b"SSL_write") => &mut write,
            Ok(b"SSL_read") => &mut read,
            Ok(b"SSL_write_ex") => &mut write_ex,
            Ok(b"SSL_read_ex") => &mut read_ex,
            Ok(b"SSL_free") => &mut free,
            _ => continue,
        };
        let vaddr = sym.st_value(endian);
        if locate(vaddr).is_some() {
            *slot = Some(Func {
                vaddr,
                size: sym.st_size(endian),
            });
        }
    }
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

    /// Scenario: this test binary (no OpenSSL), a missing file, a text file.
    /// Guarantees: not candidates; only the missing file is an error.
    #[test]
    fn binary_without_openssl_is_not_a_candidate() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(ssl_probes(&exe).unwrap(), None);
        assert!(ssl_probes(Path::new("/nonexistent/libssl.so.3")).is_err());
        let text = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(text.path(), b"not an ELF file").unwrap();
        assert_eq!(ssl_probes(text.path()).unwrap(), None);
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
        let probes = ssl_probes(lib).unwrap().expect("libssl exports SSL_write");
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
