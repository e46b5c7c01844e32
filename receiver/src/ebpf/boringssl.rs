//! Finding BoringSSL's `SSL_write` and `SSL_read` in stripped x86-64
//! executables that link it statically (stock Bun, `bun build --compile`
//! apps, Claude Code), so the ordinary `ssl_write_enter` / `ssl_read_enter` /
//! `ssl_ret` uprobes can be attached there: BoringSSL's `SSL_write` and
//! `SSL_read` have OpenSSL's calling convention (`int f(SSL *, void *, int)`
//! returning the byte count).
//!
//! # Method: structure, not a table of builds
//!
//! Every build of BoringSSL that keeps file names (Bun's do) passes
//! `__FILE__`, the library and a reason code to `ERR_put_error` at each
//! `OPENSSL_PUT_ERROR` site. The reason codes are public ABI (`ssl.h`,
//! `err.h`) and never renumbered, so the functions can be told apart by the
//! reasons they raise, whatever the compiler did to addresses, registers or
//! instruction bytes:
//!
//! 1. the NUL-terminated strings ending in `/ssl/ssl_lib.cc` (none: not
//!    BoringSSL, or built without file names);
//! 2. the instructions that load one of their addresses into a register:
//!    `mov $imm32` (non-PIE) or `lea disp32(%rip)` (PIE);
//! 3. the function around each such site: the nearest `.eh_frame_hdr`
//!    function start below it, or, without unwind tables, the nearest
//!    16-byte aligned address below it that follows `int3` padding or is a
//!    direct call target; either way linear decoding from the start must
//!    land exactly on the site;
//! 4. `ERR_put_error`'s registers, inferred per file from the straight-line
//!    code around the sites (link-time optimisation drops its unused
//!    argument and shifts the others differently per build): the library
//!    register holds `ERR_LIB_SSL` (16) at every site; of the two
//!    registers that vary, the line register has clearly more distinct
//!    values than the reason register;
//! 5. `SSL_write` is the one function whose reasons include `BAD_LENGTH`,
//!    `SSL_HANDSHAKE_FAILURE` and `UNINITIALIZED` and lie within those plus
//!    `SHOULD_NOT_HAVE_BEEN_CALLED`; `ssl_read_impl` raises the last two
//!    without `BAD_LENGTH`; `SSL_read` is the function raising only
//!    `SHOULD_NOT_HAVE_BEEN_CALLED` (its inlined `SSL_peek`) that calls
//!    `ssl_read_impl`, the one of those storing to non-stack memory when
//!    `SSL_peek` is out of line too (`SSL_read` consumes the pending data,
//!    `SSL_peek` does not), or the read function itself when
//!    `ssl_read_impl` was inlined into it;
//! 6. each choice is verified before anything is attached: it starts with a
//!    `push` (which the kernel emulates, and which a start found in the
//!    middle of a function almost never is), it is the target of at least
//!    one direct call and, where the file has unwind tables, a function
//!    start in them by construction (a uretprobe anywhere but a function's
//!    first instruction would corrupt the traced process's stack), its argument
//!    registers are read before written, and it ends within 2 KiB.
//!
//! Any ambiguity (not exactly one candidate, a failed check, an
//! unexpected register layout) is a [`Refusal`]: nothing is attached and
//! the file stays reported as unhooked with the reason. Byte signatures of
//! the functions' first bytes were measured not to be unique across builds,
//! and tables of offsets per build-id need an update per release; this
//! depends only on BoringSSL's public reason codes and on `SSL_write`
//! being the only `BAD_LENGTH` raiser in `ssl_lib.cc`.
//!
//! # Bounds
//!
//! The file is attacker-controlled and oispd runs as root: the finder reads
//! at most [`MAX_IMAGE_BYTES`] of code and read-only data, considers at
//! most [`MAX_SITES`] sites, decodes at most [`DECODE_BUDGET_BYTES`] in
//! total, and never indexes without a bound check. No crate locates
//! BoringSSL functions, so this logic is oispd's own; decoding is
//! `iced-x86`'s, ELF parsing `object`'s and the byte scans `memchr`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;

use iced_x86::{
    Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic,
    OpAccess, OpKind, Register,
};
use memchr::memmem;
use object::elf::{FileHeader64, EM_X86_64, PF_W, PF_X, PT_GNU_EH_FRAME, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::read::ReadCache;
use object::Endianness;
use oispd_receiver_ebpf::programs;

use super::elf::Attach;

/// The end of the file name BoringSSL's `ssl_lib.cc` passes as `__FILE__`.
const FILE_NAME_SUFFIX: &[u8] = b"/ssl/ssl_lib.cc\0";
/// `ERR_LIB_SSL`.
const ERR_LIB_SSL: u64 = 16;
/// `ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED` (SSL_peek's QUIC check).
const R_SHOULD_NOT_HAVE_BEEN_CALLED: u64 = 66;
/// `SSL_R_BAD_LENGTH` (SSL_write's `num < 0` check).
const R_BAD_LENGTH: u64 = 111;
/// `SSL_R_SSL_HANDSHAKE_FAILURE`.
const R_HANDSHAKE_FAILURE: u64 = 215;
/// `SSL_R_UNINITIALIZED`.
const R_UNINITIALIZED: u64 = 226;

/// Code and read-only data read at most per file (Claude Code: ~245 MB).
pub(crate) const MAX_IMAGE_BYTES: u64 = 768 << 20;
/// `.eh_frame_hdr` bytes read at most.
const MAX_EH_FRAME_HDR_BYTES: u64 = 64 << 20;
/// File-name strings considered at most (real builds have one).
const MAX_STRINGS: usize = 16;
/// How far back from a string's suffix its start (the preceding NUL) is sought.
const MAX_STRING_BYTES: usize = 4096;
/// References to the file name considered at most (real builds: 21-50).
pub(crate) const MAX_SITES: usize = 1024;
/// How far below a site its function start is sought, and how much of that
/// function is decoded to read the site's registers.
const MAX_SEARCH_BYTES: u64 = 64 << 10;
/// A chosen function must end within this (SSL_write: 379-400 bytes,
/// SSL_read: 208-264 in the builds measured).
const MAX_FUNCTION_BYTES: u64 = 2048;
/// Bytes decoded at most per file, over all searches (stock Bun needs
/// about 2 MiB).
pub(crate) const DECODE_BUDGET_BYTES: u64 = 64 << 20;
/// Distinct direct-call targets near the sites remembered at most.
const MAX_CALL_TARGETS: usize = 1 << 20;
/// Bytes of the `SSL_R_BAD_LENGTH` instruction kept for cache checks.
const MAX_SITE_BYTES: usize = 16;

/// Why a BoringSSL binary is not probed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a 64-bit little-endian x86-64 ELF file.
    #[error("not an x86-64 ELF file")]
    NotX86_64,
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// Its code and read-only data exceed [`MAX_IMAGE_BYTES`].
    #[error("its code and read-only data exceed {MAX_IMAGE_BYTES} bytes")]
    TooLarge,
    /// No `.../ssl/ssl_lib.cc` string.
    #[error("no .../ssl/ssl_lib.cc file name in it (not BoringSSL, or built without file names)")]
    NoFileName,
    /// More than [`MAX_SITES`] references to the file name.
    #[error("more than {MAX_SITES} references to the ssl_lib.cc file name")]
    TooManySites,
    /// The analysis needed more than its budget.
    #[error("the analysis exceeded its budget ({DECODE_BUDGET_BYTES} bytes decoded or {MAX_CALL_TARGETS} call targets)")]
    BudgetExhausted,
    /// `ERR_put_error`'s library, reason and line registers cannot be told
    /// apart at the sites found.
    #[error("BoringSSL present, but ERR_put_error's library/reason/line registers cannot be told apart at its {sites} error sites, so SSL_write is not located")]
    ErrRegistersUnclear {
        /// Sites whose function and registers were read.
        sites: usize,
    },
    /// Not exactly one `SSL_write` candidate.
    #[error("BoringSSL present, but {0} SSL_write candidates (exactly one needed)")]
    WriteCandidates(usize),
    /// Not exactly one `SSL_read` candidate.
    #[error(
        "BoringSSL present, SSL_write found, but {0} SSL_read candidates (exactly one needed)"
    )]
    ReadCandidates(usize),
    /// A candidate failed a check that keeps the probe on a function entry.
    #[error("the {function} candidate at {vaddr:#x} failed its entry check: {check}")]
    CheckFailed {
        /// `SSL_write` or `SSL_read`.
        function: &'static str,
        /// Its virtual address.
        vaddr: u64,
        /// What failed.
        check: Check,
    },
}

/// The verification a candidate failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Check {
    /// It does not end within [`MAX_FUNCTION_BYTES`].
    #[error("it does not end within {MAX_FUNCTION_BYTES} bytes")]
    Size,
    /// Its first instruction is not a `push`.
    #[error("its first instruction is not a push")]
    FirstInstruction,
    /// No direct call reaches it.
    #[error("no direct call reaches it")]
    NoDirectCaller,
    /// `%rdi`, `%rsi` or `%rdx` is written before any read on every path.
    #[error("an argument register is not read before it is written")]
    ArgumentsNotRead,
}

/// A located function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    /// Virtual address of its first instruction.
    pub vaddr: u64,
    /// File offset of its first instruction (where the uprobes go).
    pub offset: u64,
    /// Bytes to the end of its last instruction.
    pub size: u64,
    /// Direct calls found reaching it.
    pub direct_callers: u32,
}

/// `SSL_write` and `SSL_read` of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoringSslFuncs {
    /// `SSL_write`.
    pub write: Located,
    /// `SSL_read`.
    pub read: Located,
    /// File offset and bytes of the instruction loading `SSL_R_BAD_LENGTH`
    /// in `SSL_write`: checked again before a cached result is reused.
    pub bad_length_site: (u64, Vec<u8>),
}

impl BoringSslFuncs {
    /// The uprobes: entry and return at each function's first instruction.
    pub(crate) fn attach_points(&self) -> Vec<Attach> {
        vec![
            Attach {
                program: programs::SSL_WRITE_ENTER,
                offset: self.write.offset,
            },
            Attach {
                program: programs::SSL_RET,
                offset: self.write.offset,
            },
            Attach {
                program: programs::SSL_READ_ENTER,
                offset: self.read.offset,
            },
            Attach {
                program: programs::SSL_RET,
                offset: self.read.offset,
            },
        ]
    }
}

/// Locates `SSL_write` and `SSL_read` in `file` (see the module doc).
pub fn locate(file: &File) -> Result<BoringSslFuncs, Refusal> {
    find(&Image::read(file)?)
}

/// A loaded segment of the file that is not writable, read into memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Virtual address of its first byte.
    pub vaddr: u64,
    /// File offset of its first byte.
    pub offset: u64,
    /// Its bytes in the file.
    pub bytes: Vec<u8>,
    /// Whether it is mapped executable.
    pub executable: bool,
}

impl Segment {
    fn contains(&self, vaddr: u64) -> bool {
        vaddr >= self.vaddr && vaddr - self.vaddr < self.bytes.len() as u64
    }
}

/// The parts of an ELF file the finder reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Image {
    /// Code and read-only data.
    pub segments: Vec<Segment>,
    /// Function starts from `.eh_frame_hdr`'s search table, sorted; `None`
    /// when the file has none in the usual encoding.
    pub fde_starts: Option<Vec<u64>>,
}

impl Image {
    /// Reads the non-writable loaded segments and the unwind table's
    /// function starts of `file`, with `pread` (never mapped: a file
    /// truncated under a mapping reader kills it with SIGBUS).
    pub(crate) fn read(file: &File) -> Result<Image, Refusal> {
        let cache = ReadCache::new(file);
        let data = &cache;
        let header = FileHeader64::<Endianness>::parse(data).map_err(|_| Refusal::NotX86_64)?;
        let endian = header.endian().map_err(|_| Refusal::NotX86_64)?;
        if header.e_machine(endian) != EM_X86_64 || endian != Endianness::Little {
            return Err(Refusal::NotX86_64);
        }
        let headers = header
            .program_headers(endian, data)
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        let mut wanted = Vec::new();
        let mut total: u64 = 0;
        let mut eh_frame_hdr = None;
        for p in headers {
            let (kind, flags) = (p.p_type(endian), p.p_flags(endian));
            let (vaddr, offset, size) = (p.p_vaddr(endian), p.p_offset(endian), p.p_filesz(endian));
            if kind == PT_LOAD && flags & PF_W == 0 && size > 0 {
                if vaddr.checked_add(size).is_none() {
                    return Err(Refusal::Unreadable(
                        "a segment wraps the address space".into(),
                    ));
                }
                total = total.saturating_add(size);
                wanted.push((vaddr, offset, size, flags & PF_X != 0));
            } else if kind == PT_GNU_EH_FRAME && size <= MAX_EH_FRAME_HDR_BYTES {
                eh_frame_hdr = Some((vaddr, offset, size));
            }
        }
        if total > MAX_IMAGE_BYTES {
            return Err(Refusal::TooLarge);
        }
        let mut segments = Vec::with_capacity(wanted.len());
        for (vaddr, offset, size, executable) in wanted {
            segments.push(Segment {
                vaddr,
                offset,
                bytes: read_exact(file, offset, size)?,
                executable,
            });
        }
        let fde_starts = match eh_frame_hdr {
            Some((vaddr, offset, size)) => {
                parse_fde_starts(&read_exact(file, offset, size)?, vaddr)
            }
            None => None,
        };
        Ok(Image {
            segments,
            fde_starts,
        })
    }

    fn segment_of(&self, vaddr: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.contains(vaddr))
    }

    /// Up to `len` code bytes at `vaddr` (fewer at the end of its segment;
    /// none outside executable segments).
    fn code(&self, vaddr: u64, len: u64) -> &[u8] {
        let Some(seg) = self.segment_of(vaddr).filter(|s| s.executable) else {
            return &[];
        };
        let start = usize::try_from(vaddr - seg.vaddr).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        seg.bytes
            .get(start..end.min(seg.bytes.len()))
            .unwrap_or_default()
    }

    fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.segment_of(vaddr)
            .map(|s| s.offset.saturating_add(vaddr - s.vaddr))
    }

    fn byte_before(&self, vaddr: u64) -> Option<u8> {
        let before = vaddr.checked_sub(1)?;
        self.code(before, 1).first().copied()
    }
}

fn read_exact(file: &File, offset: u64, size: u64) -> Result<Vec<u8>, Refusal> {
    let len = usize::try_from(size).map_err(|_| Refusal::TooLarge)?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    Ok(buf)
}

/// Function starts from an `.eh_frame_hdr` at `hdr_vaddr`: version 1, a
/// 4-byte `eh_frame_ptr`, a `udata4` count and a `datarel|sdata4` table
/// (what every linker writes). Anything else, or a table larger than the
/// bytes, yields `None` (the finder then works without unwind tables).
pub(crate) fn parse_fde_starts(hdr: &[u8], hdr_vaddr: u64) -> Option<Vec<u64>> {
    const DW_EH_PE_UDATA4: u8 = 0x03;
    const DW_EH_PE_SDATA4: u8 = 0x0b;
    const DW_EH_PE_DATAREL_SDATA4: u8 = 0x3b;
    let (&version, &ptr_enc, &count_enc, &table_enc) =
        (hdr.first()?, hdr.get(1)?, hdr.get(2)?, hdr.get(3)?);
    let four_bytes = matches!(ptr_enc & 0x0f, DW_EH_PE_UDATA4 | DW_EH_PE_SDATA4);
    if version != 1
        || !four_bytes
        || count_enc != DW_EH_PE_UDATA4
        || table_enc != DW_EH_PE_DATAREL_SDATA4
    {
        return None;
    }
    let count = usize::try_from(u32::from_le_bytes(hdr.get(8..12)?.try_into().ok()?)).ok()?;
    let table = hdr.get(12..12usize.checked_add(count.checked_mul(8)?)?)?;
    let mut starts: Vec<u64> = table
        .chunks_exact(8)
        .filter_map(|entry| {
            let rel = i32::from_le_bytes(entry.get(0..4)?.try_into().ok()?);
            Some(hdr_vaddr.wrapping_add_signed(i64::from(rel)))
        })
        .collect();
    starts.sort_unstable();
    starts.dedup();
    Some(starts)
}

/// An immediate loaded into a register in the code around a site.
#[derive(Clone, Copy, Debug)]
struct Loaded {
    value: u64,
    /// Address and length of the loading instruction.
    ip: u64,
    len: usize,
}

/// One reference to the file name, read in its function.
#[derive(Debug)]
struct Site {
    /// Its function's start.
    start: u64,
    /// The register the file name is loaded into.
    file_register: Register,
    /// Immediates loaded per register before the call.
    loaded: HashMap<Register, Loaded>,
}

/// The finder's working state over one image.
struct Finder<'a> {
    image: &'a Image,
    /// Bytes left to decode.
    budget: u64,
    /// Direct-call counts per target, for targets near the sites.
    calls: HashMap<u64, u32>,
    info: InstructionInfoFactory,
}

/// The reasons raised per function (by start), each with its loading
/// instruction.
type Reasons = BTreeMap<u64, Vec<Loaded>>;

/// Runs the whole method over `image`.
pub(crate) fn find(image: &Image) -> Result<BoringSslFuncs, Refusal> {
    let strings = file_name_strings(image);
    if strings.is_empty() {
        return Err(Refusal::NoFileName);
    }
    let refs = references(image, &strings)?;
    let mut finder = Finder {
        image,
        budget: DECODE_BUDGET_BYTES,
        calls: call_counts(image, &refs)?,
        info: InstructionInfoFactory::new(),
    };
    let sites = finder.read_sites(&refs)?;
    let reason_register = reason_register(&sites)?;
    let mut funcs = Reasons::new();
    for site in &sites {
        if let Some(reason) = site.loaded.get(&reason_register) {
            funcs.entry(site.start).or_default().push(*reason);
        }
    }
    let (write, bad_length) = pick_write(&funcs)?;
    let read = finder.pick_read(&funcs)?;
    let bad_length_site = (
        image
            .file_offset(bad_length.ip)
            .ok_or(Refusal::WriteCandidates(0))?,
        image
            .code(bad_length.ip, bad_length.len.min(MAX_SITE_BYTES) as u64)
            .to_vec(),
    );
    Ok(BoringSslFuncs {
        write: finder.verify("SSL_write", write)?,
        read: finder.verify("SSL_read", read)?,
        bad_length_site,
    })
}

fn reason_set(funcs: &Reasons, start: u64) -> BTreeSet<u64> {
    funcs
        .get(&start)
        .map(|v| v.iter().map(|l| l.value).collect())
        .unwrap_or_default()
}

/// `SSL_write` (step 5): the one function raising `BAD_LENGTH`,
/// `SSL_HANDSHAKE_FAILURE` and `UNINITIALIZED`, each once, and at most
/// `SHOULD_NOT_HAVE_BEEN_CALLED` besides; with its `BAD_LENGTH` load.
fn pick_write(funcs: &Reasons) -> Result<(u64, Loaded), Refusal> {
    let required = BTreeSet::from([R_BAD_LENGTH, R_HANDSHAKE_FAILURE, R_UNINITIALIZED]);
    let allowed = BTreeSet::from([
        R_SHOULD_NOT_HAVE_BEEN_CALLED,
        R_BAD_LENGTH,
        R_HANDSHAKE_FAILURE,
        R_UNINITIALIZED,
    ]);
    let writes: Vec<u64> = funcs
        .iter()
        .filter(|(start, loaded)| {
            let set = reason_set(funcs, **start);
            set.is_superset(&required) && set.is_subset(&allowed) && set.len() == loaded.len()
        })
        .map(|(start, _)| *start)
        .collect();
    let [write] = writes[..] else {
        return Err(Refusal::WriteCandidates(writes.len()));
    };
    funcs
        .get(&write)
        .and_then(|v| v.iter().find(|l| l.value == R_BAD_LENGTH))
        .map(|bad_length| (write, *bad_length))
        .ok_or(Refusal::WriteCandidates(0))
}

/// Virtual addresses of the strings ending in [`FILE_NAME_SUFFIX`]: in the
/// read-only data segments where string literals live, or, when none is
/// there, in the code segments (a linker may merge them).
fn file_name_strings(image: &Image) -> Vec<u64> {
    let data = strings_in(image.segments.iter().filter(|s| !s.executable));
    if !data.is_empty() {
        return data;
    }
    strings_in(image.segments.iter().filter(|s| s.executable))
}

fn strings_in<'a>(segments: impl Iterator<Item = &'a Segment>) -> Vec<u64> {
    let finder = memmem::Finder::new(FILE_NAME_SUFFIX);
    let mut out = Vec::new();
    for seg in segments {
        for at in finder.find_iter(&seg.bytes) {
            let floor = at.saturating_sub(MAX_STRING_BYTES);
            let Some(window) = seg.bytes.get(floor..at) else {
                continue;
            };
            let start = match memchr::memrchr(0, window) {
                Some(nul) => floor + nul + 1,
                None if floor == 0 => 0,
                None => continue,
            };
            out.push(seg.vaddr.saturating_add(start as u64));
            if out.len() >= MAX_STRINGS {
                return out;
            }
        }
    }
    out
}

/// (instruction address, register) of every instruction in an executable
/// segment loading one of `targets`: `mov $imm32,%r32` (`b8+r`, `41 b8+r`),
/// `mov $imm32,%r64` (`48/49 c7 c0+r`), `lea disp32(%rip),%r64` (`48/4c 8d`
/// with mod=00, rm=101). A byte scan: a hit inside another instruction is
/// dropped later, when linear decoding does not land on it.
fn references(image: &Image, targets: &[u64]) -> Result<Vec<(u64, Register)>, Refusal> {
    let mut refs = BTreeSet::new();
    for seg in image.segments.iter().filter(|s| s.executable) {
        let bytes = &seg.bytes;
        let at = |i: usize| bytes.get(i).copied();
        for target in targets {
            let Ok(imm) = u32::try_from(*target) else {
                continue;
            };
            for pos in memmem::find_iter(bytes, &imm.to_le_bytes()) {
                let (Some(op), b2, b3) = (
                    pos.checked_sub(1).and_then(at),
                    pos.checked_sub(2).and_then(at),
                    pos.checked_sub(3).and_then(at),
                ) else {
                    continue;
                };
                // Both readings of `41 b8+r` are kept: linear decoding
                // from the function start lands on the real one only.
                let mut found = Vec::with_capacity(2);
                match (b3, b2, op) {
                    (_, b2, 0xb8..=0xbf) => {
                        found.push((pos - 1, op - 0xb8));
                        if b2 == Some(0x41) {
                            found.push((pos - 2, 8 + (op - 0xb8)));
                        }
                    }
                    (Some(rex @ (0x48 | 0x49)), Some(0xc7), 0xc0..=0xc7) => {
                        found.push((pos - 3, (op & 7) + if rex == 0x49 { 8 } else { 0 }));
                    }
                    _ => {}
                }
                for (insn, reg) in found {
                    refs.insert((seg.vaddr.wrapping_add(insn as u64), gpr64(reg)));
                }
                if refs.len() > MAX_SITES {
                    return Err(Refusal::TooManySites);
                }
            }
        }
        for pos in memchr::memchr_iter(0x8d, bytes) {
            let (Some(rex), Some(modrm), Some(disp)) = (
                pos.checked_sub(1).and_then(at),
                at(pos + 1),
                bytes.get(pos + 2..pos + 6),
            ) else {
                continue;
            };
            if !matches!(rex, 0x48 | 0x4c) || modrm & 0xc7 != 0x05 {
                continue;
            }
            let Ok(disp) = <[u8; 4]>::try_from(disp) else {
                continue;
            };
            let insn = seg.vaddr.wrapping_add((pos - 1) as u64);
            let target = insn
                .wrapping_add(7)
                .wrapping_add_signed(i64::from(i32::from_le_bytes(disp)));
            if targets.contains(&target) {
                let reg = ((modrm >> 3) & 7) + if rex == 0x4c { 8 } else { 0 };
                refs.insert((insn, gpr64(reg)));
                if refs.len() > MAX_SITES {
                    return Err(Refusal::TooManySites);
                }
            }
        }
    }
    Ok(refs.into_iter().collect())
}

/// The 64-bit general-purpose register numbered `n` in instruction encodings.
fn gpr64(n: u8) -> Register {
    const GPR64: [Register; 16] = [
        Register::RAX,
        Register::RCX,
        Register::RDX,
        Register::RBX,
        Register::RSP,
        Register::RBP,
        Register::RSI,
        Register::RDI,
        Register::R8,
        Register::R9,
        Register::R10,
        Register::R11,
        Register::R12,
        Register::R13,
        Register::R14,
        Register::R15,
    ];
    GPR64.get(usize::from(n)).copied().unwrap_or(Register::None)
}

/// Counts the direct calls (`e8 rel32`, a byte scan) whose target lies at
/// most [`MAX_SEARCH_BYTES`] below a site: every function start the finder
/// considers is there.
fn call_counts(image: &Image, refs: &[(u64, Register)]) -> Result<HashMap<u64, u32>, Refusal> {
    let mut windows: Vec<(u64, u64)> = refs
        .iter()
        .map(|(site, _)| (site.saturating_sub(MAX_SEARCH_BYTES), *site))
        .collect();
    windows.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let mut counts = HashMap::new();
    if merged.is_empty() {
        return Ok(counts);
    }
    for seg in image.segments.iter().filter(|s| s.executable) {
        for pos in memchr::memchr_iter(0xe8, &seg.bytes) {
            let Some(Ok(rel)) = seg.bytes.get(pos + 1..pos + 5).map(<[u8; 4]>::try_from) else {
                continue;
            };
            let target = seg
                .vaddr
                .wrapping_add(pos as u64 + 5)
                .wrapping_add_signed(i64::from(i32::from_le_bytes(rel)));
            let i = merged.partition_point(|(_, hi)| *hi < target);
            if merged.get(i).is_some_and(|(lo, _)| *lo <= target) {
                *counts.entry(target).or_insert(0u32) += 1;
                if counts.len() > MAX_CALL_TARGETS {
                    return Err(Refusal::BudgetExhausted);
                }
            }
        }
    }
    Ok(counts)
}

/// The target of a direct `call` or `jmp`.
fn direct_transfer_target(i: &Instruction) -> Option<u64> {
    matches!(
        i.flow_control(),
        FlowControl::Call | FlowControl::UnconditionalBranch
    )
    .then(|| i.near_branch_target())
}

/// Whether control does not fall through past `i`.
pub(crate) fn ends_flow(i: &Instruction) -> bool {
    matches!(
        i.flow_control(),
        FlowControl::UnconditionalBranch
            | FlowControl::IndirectBranch
            | FlowControl::Return
            | FlowControl::Call
            | FlowControl::IndirectCall
    ) || i.code() == Code::Ud2
}

/// Whether `i` transfers control or may not fall through (a basic block ends after it).
fn ends_block(i: &Instruction) -> bool {
    i.flow_control() != FlowControl::Next
}

fn is_read(access: OpAccess) -> bool {
    matches!(
        access,
        OpAccess::Read | OpAccess::CondRead | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

pub(crate) fn is_write(access: OpAccess) -> bool {
    matches!(
        access,
        OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
    )
}

/// The register and immediate `i` loads, for `mov $imm,%r32/%r64` and
/// `xor %r,%r`.
pub(crate) fn loaded_immediate(i: &Instruction) -> Option<(Register, u64)> {
    if i.op0_kind() != OpKind::Register {
        return None;
    }
    let reg = i.op0_register();
    if !(reg.is_gpr32() || reg.is_gpr64()) {
        return None;
    }
    match i.mnemonic() {
        Mnemonic::Mov
            if matches!(
                i.op1_kind(),
                OpKind::Immediate32 | OpKind::Immediate64 | OpKind::Immediate32to64
            ) =>
        {
            Some((reg.full_register(), i.try_immediate(1).ok()?))
        }
        Mnemonic::Xor if i.op1_kind() == OpKind::Register && i.op1_register() == reg => {
            Some((reg.full_register(), 0))
        }
        _ => None,
    }
}

/// `ERR_put_error`'s reason register in this file, from the sites: the library
/// register holds [`ERR_LIB_SSL`] at every site; exactly two other
/// registers are set at every site and vary, and the line register has at
/// least 1.5 times the distinct values of the reason register.
fn reason_register(sites: &[Site]) -> Result<Register, Refusal> {
    let unclear = Refusal::ErrRegistersUnclear { sites: sites.len() };
    let file_registers: HashSet<Register> = sites.iter().map(|s| s.file_register).collect();
    let [file_register] = file_registers.into_iter().collect::<Vec<_>>()[..] else {
        return Err(unclear);
    };
    let mut values: HashMap<Register, Vec<u64>> = HashMap::new();
    for site in sites {
        for (reg, loaded) in &site.loaded {
            if *reg != file_register {
                values.entry(*reg).or_default().push(loaded.value);
            }
        }
    }
    values.retain(|_, v| v.len() == sites.len());
    let libraries = values
        .values()
        .filter(|v| v.iter().all(|x| *x == ERR_LIB_SSL))
        .count();
    let mut varying: Vec<(Register, usize)> = values
        .iter()
        .map(|(reg, v)| (*reg, v.iter().collect::<HashSet<_>>().len()))
        .filter(|(_, distinct)| *distinct > 1)
        .collect();
    varying.sort_by_key(|(_, distinct)| *distinct);
    match varying[..] {
        [(reason, reasons), (_, lines)] if libraries == 1 && 2 * lines >= 3 * reasons => Ok(reason),
        _ => Err(unclear),
    }
}

impl Finder<'_> {
    /// Takes `bytes` from the decode budget.
    fn spend(&mut self, bytes: u64) -> Result<(), Refusal> {
        self.budget = self
            .budget
            .checked_sub(bytes)
            .ok_or(Refusal::BudgetExhausted)?;
        Ok(())
    }

    /// Whether linear decoding from `start` lands exactly on `site`.
    fn lands_on(&mut self, start: u64, site: u64) -> Result<bool, Refusal> {
        let code = self.image.code(start, site - start);
        self.spend(code.len() as u64)?;
        if (code.len() as u64) < site - start {
            return Ok(false);
        }
        let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
        let mut insn = Instruction::default();
        let mut at = start;
        while at < site && decoder.can_decode() {
            decoder.decode_out(&mut insn);
            if insn.is_invalid() {
                return Ok(false);
            }
            at = insn.next_ip();
        }
        Ok(at == site)
    }

    /// The start of the function around `site` (see the module doc, step 3).
    fn function_start(&mut self, site: u64) -> Result<Option<u64>, Refusal> {
        if let Some(starts) = &self.image.fde_starts {
            let k = starts.partition_point(|s| *s <= site);
            let Some(start) = k.checked_sub(1).and_then(|k| starts.get(k)).copied() else {
                return Ok(None);
            };
            if site - start > MAX_SEARCH_BYTES || !self.lands_on(start, site)? {
                return Ok(None);
            }
            return Ok(Some(start));
        }
        let floor = site.saturating_sub(MAX_SEARCH_BYTES);
        let mut start = site & !0xf;
        while start >= floor && start > 0 {
            let padded = self.image.byte_before(start) == Some(0xcc);
            if (padded || self.calls.contains_key(&start)) && self.lands_on(start, site)? {
                return Ok(Some(start));
            }
            start -= 16;
        }
        Ok(None)
    }

    /// The instructions of the function at `start`, up to `limit` bytes or
    /// the next unwind-table function start: until `int3` padding after an
    /// instruction that does not fall through. The flag says whether the
    /// function ended there (rather than at the limit or an undecodable byte).
    fn body(&mut self, start: u64, limit: u64) -> Result<(Vec<Instruction>, bool), Refusal> {
        let next_fde = self
            .image
            .fde_starts
            .as_ref()
            .and_then(|starts| starts.get(starts.partition_point(|s| *s <= start)))
            .map(|next| next - start);
        let limit = next_fde.map_or(limit, |n| n.min(limit));
        let code = self.image.code(start, limit);
        self.spend(code.len() as u64)?;
        let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
        let mut body: Vec<Instruction> = Vec::new();
        let mut insn = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut insn);
            if insn.is_invalid() {
                return Ok((body, false));
            }
            if insn.code() == Code::Int3 && body.last().is_some_and(ends_flow) {
                return Ok((body, true));
            }
            body.push(insn);
        }
        let at_next_fde = next_fde.is_some_and(|n| n == limit)
            && body
                .last()
                .is_some_and(|i| i.next_ip() == start.wrapping_add(limit));
        Ok((body, at_next_fde))
    }

    /// Each reference placed in its function, with the immediates its
    /// straight-line code loads before the call; references that cannot be
    /// placed are dropped. References come in address order, so the sites
    /// of one function are consecutive and only its body is kept.
    fn read_sites(&mut self, refs: &[(u64, Register)]) -> Result<Vec<Site>, Refusal> {
        let mut current: Option<(u64, Vec<Instruction>)> = None;
        let mut sites = Vec::new();
        for (site, file_register) in refs {
            let Some(start) = self.function_start(*site)? else {
                continue;
            };
            let body = match current.take() {
                Some((at, body)) if at == start => body,
                _ => self.body(start, MAX_SEARCH_BYTES)?.0,
            };
            let loaded = block_immediates(&body, *site);
            current = Some((start, body));
            if let Some(loaded) = loaded {
                sites.push(Site {
                    start,
                    file_register: *file_register,
                    loaded,
                });
            }
        }
        Ok(sites)
    }

    /// Whether `body` writes memory not addressed from `%rsp`/`%rbp`.
    fn stores_to_non_stack_memory(&mut self, body: &[Instruction]) -> bool {
        body.iter().any(|i| {
            i.mnemonic() != Mnemonic::Push
                && !matches!(
                    i.flow_control(),
                    FlowControl::Call | FlowControl::IndirectCall
                )
                && i.op_count() > 0
                && i.op0_kind() == OpKind::Memory
                && !matches!(
                    i.memory_base(),
                    Register::RSP | Register::RBP | Register::None
                )
                && is_write(self.info.info(i).op0_access())
        })
    }

    /// Whether `%rdi`, `%rsi` and `%rdx` are each read before being
    /// written on some path from the entry (following branches inside the
    /// body, each path ending at a call or return).
    fn arguments_read(&mut self, body: &[Instruction]) -> bool {
        const ARGS: [Register; 3] = [Register::RDI, Register::RSI, Register::RDX];
        let index: HashMap<u64, usize> =
            body.iter().enumerate().map(|(k, i)| (i.ip(), k)).collect();
        let mut read = [false; 3];
        let mut seen: HashSet<(usize, u8)> = HashSet::new();
        let mut stack = vec![(0usize, 0u8)];
        while let Some((k, mut written)) = stack.pop() {
            let Some(insn) = body.get(k) else {
                continue;
            };
            if !seen.insert((k, written)) {
                continue;
            }
            let flow = insn.flow_control();
            if matches!(
                flow,
                FlowControl::Call | FlowControl::IndirectCall | FlowControl::Return
            ) {
                continue;
            }
            let info = self.info.info(insn);
            let mut now = written;
            for (n, arg) in ARGS.iter().enumerate() {
                let bit = 1u8 << n;
                if written & bit != 0 {
                    continue;
                }
                let uses = info
                    .used_registers()
                    .iter()
                    .filter(|u| u.register().full_register() == *arg);
                let (mut r, mut w) = (false, false);
                for u in uses {
                    r |= is_read(u.access());
                    w |= is_write(u.access());
                }
                if r {
                    read[n] = true;
                }
                if r || w {
                    now |= bit;
                }
            }
            written = now;
            if matches!(
                flow,
                FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
            ) {
                if let Some(t) = index.get(&insn.near_branch_target()) {
                    stack.push((*t, written));
                }
                if flow == FlowControl::UnconditionalBranch {
                    continue;
                }
            }
            if flow == FlowControl::IndirectBranch {
                continue;
            }
            stack.push((k + 1, written));
        }
        read.iter().all(|r| *r)
    }

    /// `SSL_read` (step 5): the function raising only
    /// `SHOULD_NOT_HAVE_BEEN_CALLED` that calls `ssl_read_impl` (the one
    /// of those storing to non-stack memory when there are several), else
    /// `ssl_read_impl` itself when it also raises that reason (inlined).
    fn pick_read(&mut self, funcs: &Reasons) -> Result<u64, Refusal> {
        let read_impls: HashSet<u64> = funcs
            .keys()
            .filter(|start| {
                let set = reason_set(funcs, **start);
                set.contains(&R_HANDSHAKE_FAILURE)
                    && set.contains(&R_UNINITIALIZED)
                    && !set.contains(&R_BAD_LENGTH)
            })
            .copied()
            .collect();
        let only_peek_check = BTreeSet::from([R_SHOULD_NOT_HAVE_BEEN_CALLED]);
        let mut reads = Vec::new();
        for start in funcs.keys() {
            if reason_set(funcs, *start) != only_peek_check {
                continue;
            }
            let (body, _) = self.body(*start, MAX_FUNCTION_BYTES)?;
            if body
                .iter()
                .any(|i| direct_transfer_target(i).is_some_and(|t| read_impls.contains(&t)))
            {
                reads.push((*start, body));
            }
        }
        if reads.len() > 1 {
            let candidates = reads.len();
            reads.retain(|(_, body)| self.stores_to_non_stack_memory(body));
            if reads.len() != 1 {
                return Err(Refusal::ReadCandidates(candidates));
            }
        }
        let mut reads: Vec<u64> = reads.into_iter().map(|(start, _)| start).collect();
        if reads.is_empty() {
            reads = read_impls
                .into_iter()
                .filter(|s| reason_set(funcs, *s).contains(&R_SHOULD_NOT_HAVE_BEEN_CALLED))
                .collect();
        }
        match reads[..] {
            [read] => Ok(read),
            _ => Err(Refusal::ReadCandidates(reads.len())),
        }
    }

    /// Checks a chosen function (see the module doc, step 6).
    fn verify(&mut self, function: &'static str, start: u64) -> Result<Located, Refusal> {
        let failed = |check| Refusal::CheckFailed {
            function,
            vaddr: start,
            check,
        };
        let (body, ended) = self.body(start, MAX_FUNCTION_BYTES)?;
        let Some(last) = body.last().filter(|_| ended) else {
            return Err(failed(Check::Size));
        };
        let size = last.next_ip() - start;
        if body.first().map(Instruction::code) != Some(Code::Push_r64) {
            return Err(failed(Check::FirstInstruction));
        }
        let direct_callers = self.calls.get(&start).copied().unwrap_or(0);
        if direct_callers == 0 {
            return Err(failed(Check::NoDirectCaller));
        }
        if !self.arguments_read(&body) {
            return Err(failed(Check::ArgumentsNotRead));
        }
        let offset = self
            .image
            .file_offset(start)
            .ok_or_else(|| failed(Check::FirstInstruction))?;
        Ok(Located {
            vaddr: start,
            offset,
            size,
            direct_callers,
        })
    }
}

/// The immediates loaded into registers in the straight-line code around
/// `site` in `body`: from the start of its basic block to the call after
/// it, following at most two unconditional jumps inside the body (to a
/// call shared by several sites). `None` when the site is not an
/// instruction of the body.
fn block_immediates(body: &[Instruction], site: u64) -> Option<HashMap<Register, Loaded>> {
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
    let mut k = *index.get(&site)?;
    while k > 0 {
        let (Some(prev), Some(here)) = (body.get(k - 1), body.get(k)) else {
            break;
        };
        if ends_block(prev) || targets.contains(&here.ip()) {
            break;
        }
        k -= 1;
    }
    let mut loaded = HashMap::new();
    let mut hops = 0;
    while let Some(insn) = body.get(k) {
        match insn.flow_control() {
            FlowControl::Next => {
                if let Some((reg, value)) = loaded_immediate(insn) {
                    loaded.insert(
                        reg,
                        Loaded {
                            value,
                            ip: insn.ip(),
                            len: insn.len(),
                        },
                    );
                }
                k += 1;
            }
            FlowControl::UnconditionalBranch if hops < 2 => {
                let Some(target) = index.get(&insn.near_branch_target()) else {
                    break;
                };
                k = *target;
                hops += 1;
            }
            _ => break,
        }
    }
    Some(loaded)
}

/// Stock Bun 1.4.5 from npm (`@oven/bun-linux-x64`, build-id
/// b5188e4f53b53f3a346614bd78ba53f2ff234402), where scripts/setup.sh
/// caches it for the e2e tests (`OISPD_E2E_CACHE`, default
/// /var/tmp/oispd-e2e-cache). A test that needs it fails when it is absent
/// or another build, so CI never counts a test that ran nothing as passed;
/// `OISPD_NO_BUN=1` skips those tests instead (`None`), saying so.
#[cfg(test)]
pub(crate) fn stock_bun_path() -> Option<std::path::PathBuf> {
    let cache =
        std::env::var("OISPD_E2E_CACHE").unwrap_or_else(|_| "/var/tmp/oispd-e2e-cache".into());
    let path = std::path::Path::new(&cache).join("bun/node_modules/@oven/bun-linux-x64/bin/bun");
    let id = File::open(&path)
        .ok()
        .and_then(|f| super::elf::build_id(&f));
    if id.is_some_and(|id| hex::encode(id) == "b5188e4f53b53f3a346614bd78ba53f2ff234402") {
        return Some(path);
    }
    if std::env::var("OISPD_NO_BUN").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: OISPD_NO_BUN=1 and stock Bun 1.4.5 is not at {}",
            path.display()
        );
        return None;
    }
    panic!(
        "this test needs stock Bun 1.4.5 at {} (scripts/setup.sh installs it; set OISPD_NO_BUN=1 to skip)",
        path.display()
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
