//! Finding aws-lc's AEAD entry points, `EVP_AEAD_CTX_seal`,
//! `EVP_AEAD_CTX_open` and `EVP_AEAD_CTX_seal_scatter`, in x86-64 ELF
//! files, stripped or not, as file offsets a uprobe can be attached at.
//! rustls with the aws-lc-rs provider (Codex CLI, Copilot CLI's
//! `runtime.node`) seals every TLS record it writes and opens every record
//! it reads through these C functions, whose ABI has not changed since
//! BoringSSL introduced it; where in the file they are is what this module
//! owns. Attaching and reading the records is not its business.
//!
//! # Method
//!
//! First the symbol tables (`.symtab`, then `.dynsym`): `EVP_AEAD_CTX_seal`
//! and aws-lc-sys' prefixed form `aws_lc_0_47_0_EVP_AEAD_CTX_seal` (the
//! prefix follows the crate version). When they do not name exactly one
//! `seal` and one `open`, the structure (Codex is a stripped static-pie):
//!
//! 1. the NUL-terminated strings ending in `crypto/fipsmodule/cipher/aead.c`
//!    in the read-only data: `__FILE__` of every `OPENSSL_PUT_ERROR` in the
//!    AEAD API, i.e. `ERR_put_error(ERR_LIB_CIPHER, 0, reason, __FILE__,
//!    __LINE__)` (none: not aws-lc, or built without file names);
//! 2. the `lea disp32(%rip),%rcx` instructions (`48 8d 0d`) loading one of
//!    them: `ERR_put_error`'s fourth argument;
//! 3. the function holding each such site: the greatest `.eh_frame_hdr`
//!    function start at or below it (the sorted FDE table survives
//!    stripping); linear decoding from that start must land on the site,
//!    and the site's straight-line code up to its call must load the
//!    reason into `%edx` and leave `%rcx` alone, else the function is
//!    unreadable and takes no class;
//! 4. each function is classified by the set of reasons it raises
//!    (`cipher.h` constants, public ABI; line numbers are not used):
//!
//!    | function | raises | never raises |
//!    |---|---|---|
//!    | `EVP_AEAD_CTX_seal` | TOO_LARGE, BUFFER_TOO_SMALL, OUTPUT_ALIASES_INPUT | BAD_DECRYPT, CTRL_NOT_IMPLEMENTED, INVALID_OPERATION |
//!    | `EVP_AEAD_CTX_open` | OUTPUT_ALIASES_INPUT, BAD_DECRYPT, BUFFER_TOO_SMALL (+ CTRL_NOT_IMPLEMENTED with `open_gather` inlined) | TOO_LARGE, INVALID_OPERATION |
//!    | `EVP_AEAD_CTX_seal_scatter` | OUTPUT_ALIASES_INPUT, INVALID_OPERATION | BAD_DECRYPT, BUFFER_TOO_SMALL, CTRL_NOT_IMPLEMENTED, TOO_LARGE |
//!    | `EVP_AEAD_CTX_open_gather` | OUTPUT_ALIASES_INPUT, CTRL_NOT_IMPLEMENTED | BAD_DECRYPT, BUFFER_TOO_SMALL, INVALID_OPERATION, TOO_LARGE |
//!
//! 5. verified before anything is attached: exactly one `seal` and one
//!    `open`, at most one `seal_scatter` and `open_gather`; each chosen
//!    function starts with a `push %reg` (the kernel emulates it, so a hit
//!    is one trap and no single step, and a start found in the middle of a
//!    function almost never is one); `seal` and `seal_scatter` make an
//!    indirect call (through the `EVP_AEAD` method table), `open` too or a
//!    direct call to an `open_gather` that does; every error site of the
//!    classified functions calls one shared function (`ERR_put_error`) and
//!    each function has a site passing `ERR_LIB_CIPHER` (30) and none
//!    passing another library;
//! 6. the addresses become file offsets through the executable `PT_LOAD`
//!    segment holding them (Codex 0.171 maps `.text` 0x1000 above its file
//!    offset; a uprobe given the virtual address lands mid-instruction and
//!    silently corrupts the traced process, which is why only unwind-table
//!    starts, converted this way and checked, are ever returned).
//!
//! Any ambiguity or failed check is an [`AwsLcRefusal`] naming it: nothing
//! is better than a misplaced uprobe. The kernel programs check every
//! call's arguments for a TLS record's shape as a second line of defence.
//! `endbr64`-prefixed (CET) builds are refused by step 5; none was seen.
//!
//! # Bounds and cost
//!
//! The file is attacker-controlled and oispd runs as root. It is read with
//! `pread` in [`CHUNK`]-sized windows, never mapped and never held whole
//! in memory: the symbol tables (at most [`MAX_SYMBOL_TABLE_BYTES`] each),
//! the read-only data once (the string search; the code too when the
//! string is not there, for linkers that merge them), the code once (the
//! three-byte `lea` scan), `.eh_frame_hdr`, and at most
//! [`MAX_FUNCTION_BYTES`] of code per function holding a site; at most
//! [`MAX_READ_BYTES`] in total and [`MAX_SITES`] sites. Nothing is indexed
//! without a bound check.
//!
//! Measured (release build, page cache warm, this VM): the stripped 6.5 MB
//! aws-lc test client is located in 1.7 ms reading 6.4 MB (its read-only
//! and code segments, `.eh_frame_hdr`, six function bodies); files without
//! aws-lc cost one pass over their read-only data and code: node (99 MB,
//! 185k symbols) 155 ms, stock Bun (107 MB) 125 ms. Codex 0.171 (315 MB,
//! 13 MB of read-only data) is not on this machine and was not measured;
//! it costs the same passes over its segments.
//!
//! No crate locates aws-lc's functions in a stripped binary, so the method
//! is oispd's own, ported from the research prototype; ELF parsing is
//! `object`'s, decoding `iced-x86`'s and the byte scans `memchr`'s, with the
//! decoding helpers shared with [`boringssl`](super::boringssl).

use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::ops::{Range, RangeInclusive};
use std::os::unix::fs::FileExt;

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Register,
};
use memchr::memmem;
use object::elf::{
    FileHeader64, EM_X86_64, PF_W, PF_X, PT_GNU_EH_FRAME, PT_LOAD, SHT_DYNSYM, SHT_SYMTAB, STT_FUNC,
};
use object::elf::{SectionHeader64, Sym64};
use object::pod::slice_from_all_bytes;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::read::{ReadCache, StringTable};
use object::Endianness;

use oispd_receiver_ebpf::programs;

use super::boringssl::{ends_flow, is_write, loaded_immediate, parse_fde_starts};
use super::elf::Attach;

/// The end of the file name aws-lc's `aead.c` passes as `__FILE__`
/// (aws-lc-sys maps its build directory away; the rest varies).
pub(crate) const FILE_NAME_SUFFIX: &[u8] = b"crypto/fipsmodule/cipher/aead.c\0";
/// `lea disp32(%rip),%rcx`.
const LEA_RIP_RCX: [u8; 3] = [0x48, 0x8d, 0x0d];
/// `ERR_LIB_CIPHER`.
const ERR_LIB_CIPHER: u64 = 30;
/// `CIPHER_R_BAD_DECRYPT`.
const R_BAD_DECRYPT: u64 = 101;
/// `CIPHER_R_BUFFER_TOO_SMALL`.
const R_BUFFER_TOO_SMALL: u64 = 103;
/// `CIPHER_R_CTRL_NOT_IMPLEMENTED`.
const R_CTRL_NOT_IMPLEMENTED: u64 = 104;
/// `CIPHER_R_INVALID_OPERATION`.
const R_INVALID_OPERATION: u64 = 112;
/// `CIPHER_R_OUTPUT_ALIASES_INPUT`.
const R_OUTPUT_ALIASES_INPUT: u64 = 115;
/// `CIPHER_R_TOO_LARGE`.
const R_TOO_LARGE: u64 = 117;

/// Bytes read at most per file (Codex 0.171: 315 MB in all).
pub(crate) const MAX_READ_BYTES: u64 = 1 << 30;
/// Bytes per `pread` window.
const CHUNK: u64 = 4 << 20;
/// `.eh_frame_hdr` bytes read at most.
const MAX_EH_FRAME_HDR_BYTES: u64 = 64 << 20;
/// Symbol or string table bytes read at most, each.
const MAX_SYMBOL_TABLE_BYTES: u64 = 64 << 20;
/// File-name strings considered at most (real builds have one).
const MAX_STRINGS: usize = 16;
/// How far back from the suffix a string's start (the preceding NUL) is sought.
const MAX_STRING_BYTES: u64 = 4096;
/// References to the file name considered at most (aws-lc 0.47: 12).
pub(crate) const MAX_SITES: usize = 256;
/// A function holding a site is decoded up to this many bytes (the four
/// AEAD functions: 0xc0-0x250 bytes in the builds measured).
const MAX_FUNCTION_BYTES: u64 = 4096;
/// Instructions walked back from a site to its basic block's start.
const MAX_WALK_BACK: usize = 32;
/// Instructions walked forward from a block's start to its call.
const MAX_WALK_FORWARD: usize = 64;

/// The aws-lc functions told apart by their reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum AeadFunction {
    /// `EVP_AEAD_CTX_seal`: TLS 1.3 records and TLS 1.2 ChaCha20 records written.
    Seal,
    /// `EVP_AEAD_CTX_open`: every record read.
    Open,
    /// `EVP_AEAD_CTX_seal_scatter`: TLS 1.2 AES-GCM records written.
    SealScatter,
    /// `EVP_AEAD_CTX_open_gather`: only verifies `open` that calls it.
    OpenGather,
}

impl AeadFunction {
    /// In the order they are classified and verified.
    const ALL: [AeadFunction; 4] = [
        AeadFunction::Seal,
        AeadFunction::Open,
        AeadFunction::SealScatter,
        AeadFunction::OpenGather,
    ];

    /// The C name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            AeadFunction::Seal => "EVP_AEAD_CTX_seal",
            AeadFunction::Open => "EVP_AEAD_CTX_open",
            AeadFunction::SealScatter => "EVP_AEAD_CTX_seal_scatter",
            AeadFunction::OpenGather => "EVP_AEAD_CTX_open_gather",
        }
    }

    /// (reasons it raises, reasons it never raises): the table in the module doc.
    fn reasons(self) -> (&'static [u64], &'static [u64]) {
        match self {
            AeadFunction::Seal => (
                &[R_TOO_LARGE, R_BUFFER_TOO_SMALL, R_OUTPUT_ALIASES_INPUT],
                &[R_BAD_DECRYPT, R_CTRL_NOT_IMPLEMENTED, R_INVALID_OPERATION],
            ),
            AeadFunction::Open => (
                &[R_OUTPUT_ALIASES_INPUT, R_BAD_DECRYPT, R_BUFFER_TOO_SMALL],
                &[R_TOO_LARGE, R_INVALID_OPERATION],
            ),
            AeadFunction::SealScatter => (
                &[R_OUTPUT_ALIASES_INPUT, R_INVALID_OPERATION],
                &[
                    R_BAD_DECRYPT,
                    R_BUFFER_TOO_SMALL,
                    R_CTRL_NOT_IMPLEMENTED,
                    R_TOO_LARGE,
                ],
            ),
            AeadFunction::OpenGather => (
                &[R_OUTPUT_ALIASES_INPUT, R_CTRL_NOT_IMPLEMENTED],
                &[
                    R_BAD_DECRYPT,
                    R_BUFFER_TOO_SMALL,
                    R_INVALID_OPERATION,
                    R_TOO_LARGE,
                ],
            ),
        }
    }

    /// The function a set of reasons identifies, if any (the classes are disjoint).
    fn classify(reasons: &BTreeSet<u64>) -> Option<AeadFunction> {
        AeadFunction::ALL.into_iter().find(|f| {
            let (raises, never) = f.reasons();
            raises.iter().all(|r| reasons.contains(r)) && !never.iter().any(|r| reasons.contains(r))
        })
    }
}

impl fmt::Display for AeadFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a file's AEAD entry points are not returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AwsLcRefusal {
    /// Not a 64-bit little-endian x86-64 ELF file.
    #[error("not an x86-64 ELF file")]
    NotX86_64,
    /// Reading the file failed (or it is shorter than its headers say).
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// Finding them would read more than [`MAX_READ_BYTES`].
    #[error("its code and read-only data exceed {MAX_READ_BYTES} bytes")]
    TooLarge,
    /// No `.../crypto/fipsmodule/cipher/aead.c` string.
    #[error("no .../crypto/fipsmodule/cipher/aead.c file name in it (not aws-lc, or built without file names)")]
    NoFileName,
    /// More than [`MAX_SITES`] references to the file name.
    #[error("more than {MAX_SITES} references to the aead.c file name")]
    TooManySites,
    /// No `.eh_frame_hdr` function table in the usual encoding.
    #[error(
        "aws-lc present, but no usable .eh_frame_hdr function table to find function starts in"
    )]
    NoUnwindTable,
    /// Not exactly one `seal` or `open`, or several of another function.
    #[error("aws-lc present, but {count} {function} candidates ({unreadable} functions with unreadable error sites)")]
    Candidates {
        /// The function.
        function: AeadFunction,
        /// How many functions raise its reasons.
        count: usize,
        /// Functions holding a site whose code could not be read.
        unreadable: usize,
    },
    /// A chosen function failed a verification.
    #[error("the {function} candidate at {vaddr:#x} failed its check: {check}")]
    CheckFailed {
        /// The function.
        function: AeadFunction,
        /// Its virtual address.
        vaddr: u64,
        /// What failed.
        check: Check,
    },
}

/// The verification a chosen function failed (step 5 of the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Check {
    /// Its first instruction is not a `push %reg`.
    #[error("its first instruction is not a push the kernel emulates")]
    FirstInstruction,
    /// No indirect call (nor, for `open`, a call to an `open_gather` making one).
    #[error("it makes no indirect call through the AEAD method table")]
    NoIndirectCall,
    /// Its error sites call something other than the shared `ERR_put_error`.
    #[error("its error sites do not all call the ERR_put_error the other AEAD functions call")]
    ErrPutErrorNotShared,
    /// No site passes `ERR_LIB_CIPHER`, or one passes another library.
    #[error("its error sites do not pass ERR_LIB_CIPHER (30) as the library")]
    NotCipherLibrary,
}

/// One function's probe point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryPoint {
    /// Virtual address of its first instruction (for logs).
    pub vaddr: u64,
    /// File offset of its first instruction: where a uprobe is attached
    /// (`UProbeAttachLocation::AbsoluteOffset`, bpftrace `uprobe:FILE:0xN`).
    pub offset: u64,
}

/// How the entry points were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocatedBy {
    /// Named by the file's symbol table.
    Symbols,
    /// By structure (the module doc's method), in a stripped file.
    Structure,
}

impl LocatedBy {
    /// The name in logs and reasons.
    pub(crate) fn label(self) -> &'static str {
        match self {
            LocatedBy::Symbols => "symbols",
            LocatedBy::Structure => "structure",
        }
    }
}

/// aws-lc's AEAD entry points in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AwsLcAead {
    /// `EVP_AEAD_CTX_seal` (entry probe).
    pub seal: EntryPoint,
    /// `EVP_AEAD_CTX_open` (entry and return probes).
    pub open: EntryPoint,
    /// `EVP_AEAD_CTX_seal_scatter` (entry probe), when the file has it.
    pub seal_scatter: Option<EntryPoint>,
    /// How they were found.
    pub located_by: LocatedBy,
    /// Bytes of the file read to find them.
    pub bytes_read: u64,
}

impl AwsLcAead {
    /// The uprobes (`receiver-ebpf/src/bpf/aead.bpf.h`): seal and
    /// seal_scatter at entry, open at entry and return.
    pub(crate) fn attach_points(&self) -> Vec<Attach> {
        let at = |program, entry: &EntryPoint| Attach {
            program,
            offset: entry.offset,
        };
        let mut points = vec![
            at(programs::AEAD_SEAL_ENTER, &self.seal),
            at(programs::AEAD_OPEN_ENTER, &self.open),
            at(programs::AEAD_OPEN_RET, &self.open),
        ];
        if let Some(scatter) = &self.seal_scatter {
            points.push(at(programs::AEAD_SEAL_SCATTER_ENTER, scatter));
        }
        points
    }
}

impl fmt::Display for AwsLcAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |e: &EntryPoint| format!("file offset {:#x} (vaddr {:#x})", e.offset, e.vaddr);
        write!(
            f,
            "by {}: {} at {}, {} at {}",
            self.located_by.label(),
            AeadFunction::Seal,
            at(&self.seal),
            AeadFunction::Open,
            at(&self.open)
        )?;
        if let Some(scatter) = &self.seal_scatter {
            write!(f, ", {} at {}", AeadFunction::SealScatter, at(scatter))?;
        }
        Ok(())
    }
}

/// Locates aws-lc's AEAD entry points in `file`: by its symbols, else by
/// structure (see the module doc).
pub(crate) fn find_aead_entry_points(file: &File) -> Result<AwsLcAead, AwsLcRefusal> {
    let layout = Layout::read(file)?;
    if let Some(found) = by_symbols(file, &layout) {
        return Ok(found);
    }
    by_structure(file, &layout)
}

/// A loaded, non-writable segment (code or read-only data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    offset: u64,
    /// Bytes backed by the file.
    size: u64,
    executable: bool,
}

impl Segment {
    fn contains(&self, vaddr: u64) -> bool {
        vaddr >= self.vaddr && vaddr - self.vaddr < self.size
    }
}

/// What the program headers say about the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Layout {
    segments: Vec<Segment>,
    /// (vaddr, file offset, size) of `PT_GNU_EH_FRAME`.
    eh_frame_hdr: Option<(u64, u64, u64)>,
}

impl Layout {
    fn read(file: &File) -> Result<Layout, AwsLcRefusal> {
        let cache = ReadCache::new(file);
        let data = &cache;
        let header =
            FileHeader64::<Endianness>::parse(data).map_err(|_| AwsLcRefusal::NotX86_64)?;
        let endian = header.endian().map_err(|_| AwsLcRefusal::NotX86_64)?;
        if header.e_machine(endian) != EM_X86_64 || endian != Endianness::Little {
            return Err(AwsLcRefusal::NotX86_64);
        }
        let headers = header
            .program_headers(endian, data)
            .map_err(|e| AwsLcRefusal::Unreadable(e.to_string()))?;
        let mut layout = Layout::default();
        for p in headers {
            let (kind, flags) = (p.p_type(endian), p.p_flags(endian));
            let (vaddr, offset, size) = (p.p_vaddr(endian), p.p_offset(endian), p.p_filesz(endian));
            if vaddr.checked_add(size).is_none() || offset.checked_add(size).is_none() {
                return Err(AwsLcRefusal::Unreadable(
                    "a segment wraps the address space".into(),
                ));
            }
            if kind == PT_LOAD && flags & PF_W == 0 && size > 0 {
                layout.segments.push(Segment {
                    vaddr,
                    offset,
                    size,
                    executable: flags & PF_X != 0,
                });
            } else if kind == PT_GNU_EH_FRAME {
                layout.eh_frame_hdr = Some((vaddr, offset, size));
            }
        }
        Ok(layout)
    }

    /// The file offset of `vaddr` when an executable segment holds it.
    fn code_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| s.executable && s.contains(vaddr))
            .map(|s| s.offset + (vaddr - s.vaddr))
    }

    /// Bytes of its executable segment from `vaddr` on.
    fn code_left(&self, vaddr: u64) -> u64 {
        self.segments
            .iter()
            .find(|s| s.executable && s.contains(vaddr))
            .map_or(0, |s| s.size - (vaddr - s.vaddr))
    }
}

/// `pread` within the [`MAX_READ_BYTES`] budget.
struct Reader<'f> {
    file: &'f File,
    read: u64,
}

impl Reader<'_> {
    fn read(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, AwsLcRefusal> {
        self.read = self.read.saturating_add(len);
        if self.read > MAX_READ_BYTES {
            return Err(AwsLcRefusal::TooLarge);
        }
        let len = usize::try_from(len).map_err(|_| AwsLcRefusal::TooLarge)?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| AwsLcRefusal::Unreadable(e.to_string()))?;
        Ok(buf)
    }

    /// Calls `each(window_vaddr, window, core)` over `seg` in [`CHUNK`]
    /// windows. Each window holds up to `back` bytes before its core and
    /// `ahead` after it, so a match starting in the core is whole, with its
    /// context; each byte is in exactly one core.
    fn scan(
        &mut self,
        seg: &Segment,
        back: u64,
        ahead: u64,
        mut each: impl FnMut(u64, &[u8], Range<usize>) -> Result<(), AwsLcRefusal>,
    ) -> Result<(), AwsLcRefusal> {
        let mut core = 0;
        while core < seg.size {
            let core_len = CHUNK.min(seg.size - core);
            let lo = core.saturating_sub(back);
            let hi = seg.size.min(core + core_len + ahead);
            let window = self.read(seg.offset + lo, hi - lo)?;
            let start = usize::try_from(core - lo).map_err(|_| AwsLcRefusal::TooLarge)?;
            let end = start + usize::try_from(core_len).map_err(|_| AwsLcRefusal::TooLarge)?;
            each(seg.vaddr + lo, &window, start..end)?;
            core += core_len;
        }
        Ok(())
    }
}

/// The entry points named by the file's symbol tables: exactly one
/// address each for `seal` and `open`, at most one for `seal_scatter`, all
/// in executable segments; `None` otherwise (the structure decides then).
/// Each table and its names are read whole (one `pread` each, at most
/// [`MAX_SYMBOL_TABLE_BYTES`]) and parsed in memory: node's 185k symbols
/// read name by name cost seconds.
fn by_symbols(file: &File, layout: &Layout) -> Option<AwsLcAead> {
    let cache = ReadCache::new(file);
    let data = &cache;
    let header = FileHeader64::<Endianness>::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let table = |section: &SectionHeader64<Endianness>| -> Option<&[u8]> {
        let size = section.sh_size(endian);
        if size > MAX_SYMBOL_TABLE_BYTES {
            tracing::debug!(size, "symbol table too large to search for aws-lc");
            return None;
        }
        section.data(endian, data).ok()
    };
    let mut found: BTreeMap<AeadFunction, BTreeSet<u64>> = BTreeMap::new();
    let mut bytes_read = 0u64;
    for kind in [SHT_SYMTAB, SHT_DYNSYM] {
        let Some(section) = sections.iter().find(|s| s.sh_type(endian) == kind) else {
            continue;
        };
        let link = object::SectionIndex(section.sh_link(endian) as usize);
        let Some(names) = sections.section(link).ok().and_then(table) else {
            continue;
        };
        let Some(Ok(symbols)) = table(section).map(slice_from_all_bytes::<Sym64<Endianness>>)
        else {
            continue;
        };
        bytes_read += section.sh_size(endian) + names.len() as u64;
        let names = StringTable::new(names, 0, names.len() as u64);
        for sym in symbols {
            if sym.st_type() != STT_FUNC || !sym.is_definition(endian, names) {
                continue;
            }
            let Ok(name) = sym.name(endian, names) else {
                continue;
            };
            if let Some(function) = aead_symbol(name) {
                found
                    .entry(function)
                    .or_default()
                    .insert(sym.st_value(endian));
            }
        }
    }
    let entry = |function: AeadFunction| -> Option<Option<EntryPoint>> {
        match found
            .get(&function)
            .map(|v| v.iter().copied().collect::<Vec<_>>())
        {
            None => Some(None),
            Some(addrs) => match addrs[..] {
                [vaddr] => layout
                    .code_offset(vaddr)
                    .map(|offset| Some(EntryPoint { vaddr, offset })),
                _ => None,
            },
        }
    };
    Some(AwsLcAead {
        seal: entry(AeadFunction::Seal)??,
        open: entry(AeadFunction::Open)??,
        seal_scatter: entry(AeadFunction::SealScatter)?,
        located_by: LocatedBy::Symbols,
        bytes_read,
    })
}

/// The function a symbol name is: the C name, or aws-lc-sys' versioned
/// form `aws_lc_<version>_<name>` (`aws_lc_0_47_0_`, `aws_lc_fips_0_13_0_`).
fn aead_symbol(name: &[u8]) -> Option<AeadFunction> {
    [
        AeadFunction::Seal,
        AeadFunction::Open,
        AeadFunction::SealScatter,
    ]
    .into_iter()
    .find(|f| {
        name.strip_suffix(f.name().as_bytes())
            .is_some_and(|prefix| {
                prefix.is_empty()
                    || (prefix.starts_with(b"aws_lc_")
                        && prefix.ends_with(b"_")
                        && prefix
                            .iter()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_'))
            })
    })
}

/// The structural method (the module doc, steps 1-6).
fn by_structure(file: &File, layout: &Layout) -> Result<AwsLcAead, AwsLcRefusal> {
    let mut reader = Reader { file, read: 0 };
    let strings = file_name_strings(&mut reader, layout)?;
    if strings.is_empty() {
        return Err(AwsLcRefusal::NoFileName);
    }
    let sites = references(&mut reader, layout, &strings)?;
    let starts = fde_starts(&mut reader, layout)?;
    let mut finder = Finder {
        reader,
        layout,
        info: InstructionInfoFactory::new(),
    };
    let functions = finder.read_functions(&sites, &starts)?;
    let chosen = choose(&functions)?;
    verify(&chosen, &functions)?;
    let entry = |f: AeadFunction| {
        chosen
            .get(&f)
            .and_then(|start| functions.get(start))
            .map(|func| EntryPoint {
                vaddr: func.start,
                offset: func.offset,
            })
    };
    let missing = |function| AwsLcRefusal::Candidates {
        function,
        count: 0,
        unreadable: 0,
    };
    Ok(AwsLcAead {
        seal: entry(AeadFunction::Seal).ok_or_else(|| missing(AeadFunction::Seal))?,
        open: entry(AeadFunction::Open).ok_or_else(|| missing(AeadFunction::Open))?,
        seal_scatter: entry(AeadFunction::SealScatter),
        located_by: LocatedBy::Structure,
        bytes_read: finder.reader.read,
    })
}

/// The file-name strings, each as the addresses a pointer to it may hold:
/// from its start to the start of the suffix (a linker merging string
/// tails may point into a longer string). In the read-only data segments,
/// or in the code segments when none is there (a linker may merge them).
fn file_name_strings(
    reader: &mut Reader<'_>,
    layout: &Layout,
) -> Result<Vec<RangeInclusive<u64>>, AwsLcRefusal> {
    for executable in [false, true] {
        let mut out = Vec::new();
        let finder = memmem::Finder::new(FILE_NAME_SUFFIX);
        for seg in layout
            .segments
            .iter()
            .filter(|s| s.executable == executable)
        {
            let ahead = FILE_NAME_SUFFIX.len() as u64 - 1;
            reader.scan(
                seg,
                MAX_STRING_BYTES,
                ahead,
                |window_vaddr, window, core| {
                    for at in finder.find_iter(window).filter(|at| core.contains(at)) {
                        let floor = at.saturating_sub(MAX_STRING_BYTES as usize);
                        let Some(before) = window.get(floor..at) else {
                            continue;
                        };
                        let start = match memchr::memrchr(0, before) {
                            Some(nul) => floor + nul + 1,
                            // The segment's first string.
                            None if floor == 0 && window_vaddr == seg.vaddr => 0,
                            None => continue,
                        };
                        if out.len() < MAX_STRINGS {
                            out.push(window_vaddr + start as u64..=window_vaddr + at as u64);
                        }
                    }
                    Ok(())
                },
            )?;
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    Ok(Vec::new())
}

/// Addresses of the `lea disp32(%rip),%rcx` instructions in the code
/// segments whose target is one of `strings`. A byte scan: a hit inside
/// another instruction is dropped later, when decoding does not land on it.
fn references(
    reader: &mut Reader<'_>,
    layout: &Layout,
    strings: &[RangeInclusive<u64>],
) -> Result<Vec<u64>, AwsLcRefusal> {
    let mut sites = Vec::new();
    let lea = memmem::Finder::new(&LEA_RIP_RCX);
    for seg in layout.segments.iter().filter(|s| s.executable) {
        reader.scan(seg, 0, 6, |window_vaddr, window, core| {
            for at in lea.find_iter(window).filter(|at| core.contains(at)) {
                let Some(Ok(disp)) = window.get(at + 3..at + 7).map(<[u8; 4]>::try_from) else {
                    continue;
                };
                let insn = window_vaddr + at as u64;
                let target = insn
                    .wrapping_add(7)
                    .wrapping_add_signed(i64::from(i32::from_le_bytes(disp)));
                if strings.iter().any(|s| s.contains(&target)) {
                    if sites.len() == MAX_SITES {
                        return Err(AwsLcRefusal::TooManySites);
                    }
                    sites.push(insn);
                }
            }
            Ok(())
        })?;
    }
    Ok(sites)
}

/// The sorted function starts of `.eh_frame_hdr`'s search table.
fn fde_starts(reader: &mut Reader<'_>, layout: &Layout) -> Result<Vec<u64>, AwsLcRefusal> {
    let Some((vaddr, offset, size)) = layout.eh_frame_hdr else {
        return Err(AwsLcRefusal::NoUnwindTable);
    };
    if size > MAX_EH_FRAME_HDR_BYTES {
        return Err(AwsLcRefusal::NoUnwindTable);
    }
    let hdr = reader.read(offset, size)?;
    parse_fde_starts(&hdr, vaddr)
        .filter(|starts| !starts.is_empty())
        .ok_or(AwsLcRefusal::NoUnwindTable)
}

/// What one error site passes to the function it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SiteReading {
    /// `%edx` at the call.
    reason: u64,
    /// `%edi` at the call, when loaded in the site's straight-line code.
    library: Option<u64>,
    /// The direct call (or tail jump) target.
    callee: u64,
}

/// A function holding error sites.
#[derive(Debug)]
struct Function {
    start: u64,
    /// The file offset of `start`.
    offset: u64,
    body: Vec<Instruction>,
    /// One per site, `None` when the site could not be read.
    sites: Vec<Option<SiteReading>>,
}

impl Function {
    fn readable(&self) -> bool {
        self.sites.iter().all(Option::is_some)
    }

    fn readings(&self) -> impl Iterator<Item = &SiteReading> {
        self.sites.iter().flatten()
    }

    fn reasons(&self) -> BTreeSet<u64> {
        self.readings().map(|s| s.reason).collect()
    }

    fn makes_indirect_call(&self) -> bool {
        self.body
            .iter()
            .any(|i| i.flow_control() == FlowControl::IndirectCall)
    }

    fn calls(&self, target: u64) -> bool {
        self.body
            .iter()
            .any(|i| i.flow_control() == FlowControl::Call && i.near_branch_target() == target)
    }
}

/// The structural finder's state over one file.
struct Finder<'a, 'f> {
    reader: Reader<'f>,
    layout: &'a Layout,
    info: InstructionInfoFactory,
}

impl Finder<'_, '_> {
    /// The functions holding `sites`, by start, each with its sites read. A
    /// site whose function start (by the unwind table) is not in an
    /// executable segment is not placed.
    fn read_functions(
        &mut self,
        sites: &[u64],
        starts: &[u64],
    ) -> Result<BTreeMap<u64, Function>, AwsLcRefusal> {
        let mut functions: BTreeMap<u64, Function> = BTreeMap::new();
        for site in sites {
            let k = starts.partition_point(|s| s <= site);
            let Some(start) = k.checked_sub(1).and_then(|k| starts.get(k)).copied() else {
                continue;
            };
            let Some(offset) = self.layout.code_offset(start) else {
                continue;
            };
            let function = match functions.entry(start) {
                btree_map::Entry::Occupied(known) => known.into_mut(),
                btree_map::Entry::Vacant(slot) => slot.insert(Function {
                    start,
                    offset,
                    body: self.body(start, offset, starts.get(k).copied())?,
                    sites: Vec::new(),
                }),
            };
            let reading = read_site(&mut self.info, &function.body, *site);
            function.sites.push(reading);
        }
        Ok(functions)
    }

    /// The instructions from `start` up to the next function start,
    /// [`MAX_FUNCTION_BYTES`], an undecodable byte or `int3` padding after
    /// an instruction that does not fall through.
    fn body(
        &mut self,
        start: u64,
        offset: u64,
        next: Option<u64>,
    ) -> Result<Vec<Instruction>, AwsLcRefusal> {
        let len = next
            .map_or(MAX_FUNCTION_BYTES, |n| n - start)
            .min(MAX_FUNCTION_BYTES)
            .min(self.layout.code_left(start));
        let code = self.reader.read(offset, len)?;
        let mut decoder = Decoder::with_ip(64, &code, start, DecoderOptions::NONE);
        let mut body: Vec<Instruction> = Vec::new();
        let mut insn = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut insn);
            if insn.is_invalid()
                || (insn.code() == Code::Int3 && body.last().is_some_and(ends_flow))
            {
                break;
            }
            body.push(insn);
        }
        Ok(body)
    }
}

/// What the error site at `site` passes (see [`SiteReading`]): from the
/// start of its straight-line code (walking back while the instruction is
/// no branch target and its predecessor falls through without a call) to
/// the call it reaches, following conditional branches' fall-through and
/// at most two unconditional jumps inside `body` (a call tail shared by
/// several sites). `None` when the site is not an instruction of `body`,
/// `%rcx` is overwritten before the call, the reason is not a loaded
/// immediate, or no direct call is reached.
fn read_site(
    info: &mut InstructionInfoFactory,
    body: &[Instruction],
    site: u64,
) -> Option<SiteReading> {
    let index: HashMap<u64, usize> = body.iter().enumerate().map(|(k, i)| (i.ip(), k)).collect();
    let targets: HashSet<u64> = body
        .iter()
        .filter(|i| {
            matches!(
                i.flow_control(),
                FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
            )
        })
        .map(Instruction::near_branch_target)
        .collect();
    let at_site = *index.get(&site)?;
    let mut k = at_site;
    for _ in 0..MAX_WALK_BACK {
        let (Some(k_prev), Some(here)) = (k.checked_sub(1), body.get(k)) else {
            break;
        };
        let falls_through = body.get(k_prev).is_some_and(|p| {
            matches!(
                p.flow_control(),
                FlowControl::Next | FlowControl::ConditionalBranch
            )
        });
        if targets.contains(&here.ip()) || !falls_through {
            break;
        }
        k = k_prev;
    }
    let mut loaded: HashMap<Register, u64> = HashMap::new();
    let mut hops = 0;
    let mut past_site = false;
    for _ in 0..MAX_WALK_FORWARD {
        let insn = body.get(k)?;
        past_site |= k == at_site;
        match insn.flow_control() {
            FlowControl::Next | FlowControl::ConditionalBranch => {
                let immediate = loaded_immediate(insn);
                let written: Vec<Register> = match immediate {
                    Some((reg, _)) => vec![reg],
                    None => info
                        .info(insn)
                        .used_registers()
                        .iter()
                        .filter(|u| is_write(u.access()))
                        .map(|u| u.register().full_register())
                        .collect(),
                };
                if past_site && k != at_site && written.contains(&Register::RCX) {
                    return None;
                }
                for reg in &written {
                    loaded.remove(reg);
                }
                if let Some((reg, value)) = immediate {
                    loaded.insert(reg, value);
                }
                k += 1;
            }
            FlowControl::UnconditionalBranch => {
                let target = insn.near_branch_target();
                match index.get(&target) {
                    Some(next) if hops < 2 => {
                        k = *next;
                        hops += 1;
                    }
                    Some(_) => return None,
                    None => return reading(&loaded, target, past_site),
                }
            }
            FlowControl::Call => {
                return reading(&loaded, insn.near_branch_target(), past_site);
            }
            _ => return None,
        }
    }
    None
}

fn reading(loaded: &HashMap<Register, u64>, callee: u64, past_site: bool) -> Option<SiteReading> {
    past_site.then_some(())?;
    Some(SiteReading {
        reason: *loaded.get(&Register::RDX)?,
        library: loaded.get(&Register::RDI).copied(),
        callee,
    })
}

/// The start of each function class found, after the uniqueness rules
/// (exactly one `seal` and `open`, at most one of the others).
fn choose(
    functions: &BTreeMap<u64, Function>,
) -> Result<BTreeMap<AeadFunction, u64>, AwsLcRefusal> {
    let unreadable = functions.values().filter(|f| !f.readable()).count();
    let mut by_class: BTreeMap<AeadFunction, Vec<u64>> = BTreeMap::new();
    for function in functions.values().filter(|f| f.readable()) {
        if let Some(class) = AeadFunction::classify(&function.reasons()) {
            by_class.entry(class).or_default().push(function.start);
        }
    }
    let mut chosen = BTreeMap::new();
    for function in AeadFunction::ALL {
        let found = by_class.remove(&function).unwrap_or_default();
        let required = matches!(function, AeadFunction::Seal | AeadFunction::Open);
        match found[..] {
            [start] => {
                chosen.insert(function, start);
            }
            [] if !required => {}
            _ => {
                return Err(AwsLcRefusal::Candidates {
                    function,
                    count: found.len(),
                    unreadable,
                })
            }
        }
    }
    Ok(chosen)
}

/// The checks of step 5 (the module doc) on the functions returned;
/// `open_gather` only vouches for an `open` without its own indirect call
/// when it passes the error-site checks itself.
fn verify(
    chosen: &BTreeMap<AeadFunction, u64>,
    functions: &BTreeMap<u64, Function>,
) -> Result<(), AwsLcRefusal> {
    let get = |f: AeadFunction| chosen.get(&f).and_then(|start| functions.get(start));
    let err_put_error = get(AeadFunction::Seal)
        .and_then(|f| f.readings().next())
        .map(|s| s.callee);
    let error_sites = |func: &Function| -> Result<(), Check> {
        if func.readings().any(|s| Some(s.callee) != err_put_error) {
            return Err(Check::ErrPutErrorNotShared);
        }
        let mut libraries = func.readings().filter_map(|s| s.library).peekable();
        if libraries.peek().is_none() || libraries.any(|l| l != ERR_LIB_CIPHER) {
            return Err(Check::NotCipherLibrary);
        }
        Ok(())
    };
    let open_gather = get(AeadFunction::OpenGather);
    for function in [
        AeadFunction::Seal,
        AeadFunction::Open,
        AeadFunction::SealScatter,
    ] {
        let Some(func) = get(function) else {
            continue;
        };
        let failed = |check| AwsLcRefusal::CheckFailed {
            function,
            vaddr: func.start,
            check,
        };
        if func.body.first().map(Instruction::code) != Some(Code::Push_r64) {
            return Err(failed(Check::FirstInstruction));
        }
        let through_open_gather = function == AeadFunction::Open
            && open_gather.is_some_and(|g| {
                g.makes_indirect_call() && func.calls(g.start) && error_sites(g).is_ok()
            });
        if !func.makes_indirect_call() && !through_open_gather {
            return Err(failed(Check::NoIndirectCall));
        }
        error_sites(func).map_err(failed)?;
    }
    Ok(())
}

/// The rustls test client with the given crypto provider (`aws-lc` or
/// `ring`), as scripts/build-test-clients.sh leaves it (`OISPD_TEST_CLIENTS`,
/// default /var/tmp/oispd-test-clients): release builds that keep their
/// symbol table, the ground truth of the finder's tests. A missing client
/// fails the test that needs it, naming the script; it is never skipped.
#[cfg(test)]
pub(crate) fn test_client_path(provider: &str) -> std::path::PathBuf {
    let dir = std::env::var("OISPD_TEST_CLIENTS")
        .unwrap_or_else(|_| "/var/tmp/oispd-test-clients".into());
    test_client_in(std::path::Path::new(&dir), provider)
}

#[cfg(test)]
fn test_client_in(dir: &std::path::Path, provider: &str) -> std::path::PathBuf {
    let path = dir.join(format!("rustls-client-{provider}"));
    assert!(
        path.is_file(),
        "{} is missing: build the rustls test clients with scripts/build-test-clients.sh",
        path.display()
    );
    path
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
