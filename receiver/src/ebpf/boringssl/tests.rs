//! The finder on synthetic builds: small x86-64 images laid out as BoringSSL
//! builds are (functions raising `OPENSSL_PUT_ERROR` sites, `int3` padding,
//! optional unwind tables), in both `ERR_put_error` register layouts and
//! both file-name reference forms, plus the shapes it must refuse.

use super::*;

const RODATA: u64 = 0x20_0000;
const RODATA_OFFSET: u64 = 0x1000;
const TEXT: u64 = 0x40_0000;
const TEXT_OFFSET: u64 = 0x10_000;
const FILE_NAME: &[u8] = b"../../vendor/boringssl/ssl/ssl_lib.cc\0";
/// Where [`FILE_NAME`] starts (after a NUL-terminated neighbour).
const FILE_NAME_AT: u64 = RODATA + 16;

/// How `ERR_put_error` takes (library, reason, file, line).
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// `%edi`, `%edx`, `%rcx`, `%r8d` (Bun 1.1, 1.4.5).
    ReasonInEdx,
    /// `%edi`, `%esi`, `%rdx`, `%ecx` (Bun 1.2, 1.3, Claude Code).
    ReasonInEsi,
}

/// How the file name's address is loaded.
#[derive(Clone, Copy, Debug)]
enum FileRef {
    /// `mov $imm32,%r32` (non-PIE).
    Imm32,
    /// `lea disp32(%rip),%r64` (PIE).
    RipRelative,
}

/// Where `SSL_read` and `SSL_peek` are.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ReadShape {
    /// `SSL_peek` inlined into `SSL_read`, which calls `ssl_read_impl`.
    PeekInlined,
    /// `SSL_read` and `SSL_peek` both out of line, both calling
    /// `ssl_read_impl`; `SSL_read` stores to the `SSL` when `read_stores`.
    PeekOutOfLine { read_stores: bool },
    /// `ssl_read_impl` inlined into `SSL_read`.
    ImplInlined,
}

/// One synthetic build.
#[derive(Clone, Copy, Debug)]
struct Build {
    layout: Layout,
    file_ref: FileRef,
    fde: bool,
    read: ReadShape,
    /// The reason SSL_write raises for a negative length (111 in BoringSSL).
    bad_length_reason: u32,
    /// A second function raising SSL_write's reasons.
    second_write: bool,
    /// Whether anything calls SSL_write directly.
    write_called: bool,
    /// Whether SSL_write starts with `push %rbp`.
    write_pushes_first: bool,
    /// Whether SSL_write zeroes `%esi` before reading it.
    write_clobbers_rsi: bool,
    /// Whether every site passes the same line (no line register to tell).
    constant_line: bool,
}

impl Default for Build {
    fn default() -> Self {
        Build {
            layout: Layout::ReasonInEdx,
            file_ref: FileRef::Imm32,
            fde: false,
            read: ReadShape::PeekInlined,
            bad_length_reason: 111,
            second_write: false,
            write_called: true,
            write_pushes_first: true,
            write_clobbers_rsi: false,
            constant_line: false,
        }
    }
}

/// What a build holds where.
struct Built {
    image: Image,
    write: u64,
    read: u64,
    peek: Option<u64>,
}

/// A tiny x86-64 emitter for the synthetic functions.
struct Asm {
    build: Build,
    code: Vec<u8>,
    starts: Vec<u64>,
    err_put_error: u64,
    line: u32,
}

impl Asm {
    fn here(&self) -> u64 {
        TEXT + self.code.len() as u64
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.code.extend_from_slice(bytes);
    }

    fn imm32(&mut self, opcode: &[u8], value: u32) {
        self.emit(opcode);
        self.emit(&value.to_le_bytes());
    }

    fn call(&mut self, target: u64) {
        let rel = target.wrapping_sub(self.here() + 5) as u32;
        self.imm32(&[0xe8], rel);
    }

    /// A `jcc rel32` to be patched; returns where its displacement is.
    fn jcc(&mut self, cc: u8) -> usize {
        self.emit(&[0x0f, cc]);
        let at = self.code.len();
        self.emit(&[0; 4]);
        at
    }

    /// Points the jump whose displacement is at `at` here.
    fn land(&mut self, at: usize) {
        let rel = (self.here() - (TEXT + at as u64 + 4)) as u32;
        self.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    }

    /// Pads with `int3` to the next 16-byte boundary (at least one) and
    /// starts a function there.
    fn function(&mut self) -> u64 {
        self.code.push(0xcc);
        while !self.code.len().is_multiple_of(16) {
            self.code.push(0xcc);
        }
        let start = self.here();
        self.starts.push(start);
        start
    }

    /// Loads the file name's address into register `reg` (0-7).
    fn file_name(&mut self, reg: u8) {
        match self.build.file_ref {
            FileRef::Imm32 => self.imm32(&[0xb8 + reg], FILE_NAME_AT as u32),
            FileRef::RipRelative => {
                let disp = FILE_NAME_AT.wrapping_sub(self.here() + 7) as u32;
                self.imm32(&[0x48, 0x8d, 0x05 | (reg << 3)], disp);
            }
        }
    }

    /// `OPENSSL_PUT_ERROR(SSL, reason)`, then `return -1`.
    fn err_site(&mut self, reason: u32) {
        self.line += 1;
        let line = if self.build.constant_line {
            7
        } else {
            self.line
        };
        self.imm32(&[0xbf], 16); // mov $16,%edi
        match self.build.layout {
            Layout::ReasonInEdx => {
                self.imm32(&[0xba], reason); // mov $reason,%edx
                self.file_name(1); // %rcx
                self.imm32(&[0x41, 0xb8], line); // mov $line,%r8d
            }
            Layout::ReasonInEsi => {
                self.imm32(&[0xbe], reason); // mov $reason,%esi
                self.file_name(2); // %rdx
                self.imm32(&[0xb9], line); // mov $line,%ecx
            }
        }
        self.call(self.err_put_error);
        self.imm32(&[0xb8], u32::MAX); // mov $-1,%eax
        self.emit(&[0x5d, 0xc3]); // pop %rbp; ret
    }

    fn prologue(&mut self) {
        self.emit(&[0x55, 0x48, 0x89, 0xe5]); // push %rbp; mov %rsp,%rbp
    }

    /// A function raising `reasons`, one per `cmp $k,%edi; jne next`.
    fn raiser(&mut self, reasons: &[u32]) -> u64 {
        let start = self.function();
        self.prologue();
        for (k, reason) in reasons.iter().enumerate() {
            self.emit(&[0x83, 0xff, k as u8]); // cmp $k,%edi
            let next = self.jcc(0x85);
            self.err_site(*reason);
            self.land(next);
        }
        self.emit(&[0x31, 0xc0, 0x5d, 0xc3]); // xor %eax,%eax; pop %rbp; ret
        start
    }

    /// SSL_write: uninitialised, negative length and handshake checks.
    fn ssl_write(&mut self) -> u64 {
        let start = self.function();
        if !self.build.write_pushes_first {
            self.emit(&[0x48, 0x89, 0xf8]); // mov %rdi,%rax
        }
        self.prologue();
        if self.build.write_clobbers_rsi {
            self.emit(&[0x31, 0xf6]); // xor %esi,%esi
        }
        self.emit(&[0x48, 0x8b, 0x47, 0x30]); // mov 0x30(%rdi),%rax
        self.emit(&[0x48, 0x85, 0xc0]); // test %rax,%rax
        let uninit = self.jcc(0x84);
        self.emit(&[0x85, 0xd2]); // test %edx,%edx
        let bad_length = self.jcc(0x88);
        self.emit(&[0x48, 0x85, 0xf6]); // test %rsi,%rsi
        self.emit(&[0x80, 0x38, 0x00]); // cmpb $0,(%rax)
        let handshake = self.jcc(0x85);
        self.emit(&[0x89, 0xd0, 0x5d, 0xc3]); // mov %edx,%eax; pop %rbp; ret
        self.land(uninit);
        self.err_site(226);
        self.land(bad_length);
        self.err_site(self.build.bad_length_reason);
        self.land(handshake);
        self.err_site(215);
        start
    }

    /// The reading checks of ssl_read_impl (uninitialised, handshake),
    /// then `return len` (the body of a function already begun).
    fn read_impl_checks(&mut self) {
        self.emit(&[0x48, 0x8b, 0x47, 0x30]); // mov 0x30(%rdi),%rax
        self.emit(&[0x48, 0x85, 0xc0]); // test %rax,%rax
        let uninit = self.jcc(0x84);
        self.emit(&[0x48, 0x85, 0xf6]); // test %rsi,%rsi
        self.emit(&[0x80, 0x38, 0x00]); // cmpb $0,(%rax)
        let handshake = self.jcc(0x85);
        self.emit(&[0x89, 0xd0, 0x5d, 0xc3]); // mov %edx,%eax; pop %rbp; ret
        self.land(uninit);
        self.err_site(226);
        self.land(handshake);
        self.err_site(215);
    }

    fn ssl_read_impl(&mut self) -> u64 {
        let start = self.function();
        self.prologue();
        self.read_impl_checks();
        start
    }

    /// SSL_read or SSL_peek: the QUIC check, then `ssl_read_impl`; stores
    /// the result to the `SSL` (SSL_read) or to its stack frame (SSL_peek).
    fn read_or_peek(&mut self, read_impl: u64, stores: bool) -> u64 {
        let start = self.function();
        self.prologue();
        self.emit(&[0x48, 0x8b, 0x47, 0x30]); // mov 0x30(%rdi),%rax
        self.emit(&[0x80, 0x78, 0x08, 0x00]); // cmpb $0,8(%rax)
        let quic = self.jcc(0x85);
        self.emit(&[0x48, 0x85, 0xf6, 0x85, 0xd2]); // test %rsi,%rsi; test %edx,%edx
        self.emit(&[0x53, 0x48, 0x89, 0xfb]); // push %rbx; mov %rdi,%rbx
        self.call(read_impl);
        if stores {
            self.emit(&[0x89, 0x43, 0x40]); // mov %eax,0x40(%rbx)
        } else {
            self.emit(&[0x89, 0x45, 0xf8]); // mov %eax,-8(%rbp)
        }
        self.emit(&[0x5b, 0x5d, 0xc3]); // pop %rbx; pop %rbp; ret
        self.land(quic);
        self.err_site(66);
        start
    }

    /// SSL_read with ssl_read_impl inlined.
    fn read_with_impl_inlined(&mut self) -> u64 {
        let start = self.function();
        self.prologue();
        self.emit(&[0x48, 0x85, 0xd2]); // test %rdx,%rdx
        let quic = self.jcc(0x88);
        self.read_impl_checks();
        self.land(quic);
        self.err_site(66);
        start
    }
}

/// Lays out one synthetic build.
fn build(b: Build) -> Built {
    let mut asm = Asm {
        build: b,
        code: Vec::new(),
        starts: Vec::new(),
        err_put_error: 0,
        line: 100,
    };
    asm.err_put_error = asm.function();
    asm.emit(&[0xc3]);
    // Other ssl_lib.cc functions, so reasons repeat and lines do not.
    asm.raiser(&[185, 185, 110]);
    asm.raiser(&[110, 182, 182, 185]);
    let write = asm.ssl_write();
    if b.second_write {
        asm.ssl_write();
    }
    let (read, peek) = match b.read {
        ReadShape::PeekInlined => {
            let read_impl = asm.ssl_read_impl();
            (asm.read_or_peek(read_impl, true), None)
        }
        ReadShape::PeekOutOfLine { read_stores } => {
            let read_impl = asm.ssl_read_impl();
            let peek = asm.read_or_peek(read_impl, false);
            (asm.read_or_peek(read_impl, read_stores), Some(peek))
        }
        ReadShape::ImplInlined => (asm.read_with_impl_inlined(), None),
    };
    asm.function();
    asm.prologue();
    if b.write_called {
        asm.call(write);
    }
    asm.call(read);
    if let Some(peek) = peek {
        asm.call(peek);
    }
    asm.emit(&[0x5d, 0xc3]);
    asm.function();
    let mut rodata = vec![0u8; 16];
    rodata[..10].copy_from_slice(b"neighbour\0");
    rodata.extend_from_slice(FILE_NAME);
    rodata.extend_from_slice(b"other string\0");
    let image = Image {
        segments: vec![
            Segment {
                vaddr: RODATA,
                offset: RODATA_OFFSET,
                bytes: rodata,
                executable: false,
            },
            Segment {
                vaddr: TEXT,
                offset: TEXT_OFFSET,
                bytes: asm.code,
                executable: true,
            },
        ],
        fde_starts: b.fde.then_some(asm.starts),
    };
    Built {
        image,
        write,
        read,
        peek,
    }
}

/// An image of two segments: ssl_lib.cc's file name (after a NUL) at
/// `FILE_NAME_AT`, and `text` as executable code at `TEXT`.
fn file_name_then_text(text: Vec<u8>, fde_starts: Option<Vec<u64>>) -> Image {
    let mut rodata = vec![0u8];
    rodata.extend_from_slice(FILE_NAME);
    Image {
        segments: vec![
            Segment {
                vaddr: FILE_NAME_AT - 1,
                offset: 0,
                bytes: rodata,
                executable: false,
            },
            Segment {
                vaddr: TEXT,
                offset: 0,
                bytes: text,
                executable: true,
            },
        ],
        fde_starts,
    }
}

fn offset(vaddr: u64) -> u64 {
    vaddr - TEXT + TEXT_OFFSET
}

/// Asserts the build's SSL_write and SSL_read are found, and returns them.
fn found(b: Build) -> (Built, BoringSslFuncs) {
    let built = build(b);
    let funcs = find(&built.image).unwrap_or_else(|e| panic!("{b:?}: {e}"));
    assert_eq!(funcs.write.vaddr, built.write, "{b:?}");
    assert_eq!(funcs.write.offset, offset(built.write), "{b:?}");
    assert_eq!(funcs.read.vaddr, built.read, "{b:?}");
    assert_eq!(funcs.read.offset, offset(built.read), "{b:?}");
    (built, funcs)
}

/// Scenario: synthetic builds in both ERR_put_error register layouts
/// (reason in %edx with file in %rcx and line in %r8d; reason in %esi with
/// file in %rdx and line in %ecx), with the file name loaded by `mov
/// $imm32` and by `lea (%rip)`, with and without unwind tables.
/// Guarantees: SSL_write and SSL_read are found at their exact addresses
/// and file offsets in every combination; the uprobes are entry + return
/// at each.
#[test]
fn both_register_layouts_and_reference_forms_are_found() {
    for layout in [Layout::ReasonInEdx, Layout::ReasonInEsi] {
        for file_ref in [FileRef::Imm32, FileRef::RipRelative] {
            for fde in [false, true] {
                let (built, funcs) = found(Build {
                    layout,
                    file_ref,
                    fde,
                    ..Build::default()
                });
                assert_eq!(funcs.write.direct_callers, 1);
                assert_eq!(funcs.read.direct_callers, 1);
                assert!(funcs.write.size > 20 && funcs.write.size < 200);
                let attach = funcs.attach_points();
                let at = |program: &str| -> Vec<u64> {
                    attach
                        .iter()
                        .filter(|a| a.program == program)
                        .map(|a| a.offset)
                        .collect()
                };
                assert_eq!(at(programs::SSL_WRITE_ENTER), [offset(built.write)]);
                assert_eq!(at(programs::SSL_READ_ENTER), [offset(built.read)]);
                assert_eq!(
                    at(programs::SSL_RET),
                    [offset(built.write), offset(built.read)]
                );
            }
        }
    }
}

/// Scenario: a build (reason in %edx).
/// Guarantees: the BAD_LENGTH site recorded for cache checks is the `mov
/// $111,%edx` inside SSL_write, at its file offset.
#[test]
fn bad_length_site_is_the_reason_load_in_ssl_write() {
    let (built, funcs) = found(Build::default());
    let (site_offset, bytes) = &funcs.bad_length_site;
    assert_eq!(bytes, &[0xba, 111, 0, 0, 0]);
    let write_end = offset(built.write) + funcs.write.size;
    assert!(*site_offset > offset(built.write) && *site_offset < write_end);
    let text = &built.image.segments[1].bytes;
    let at = usize::try_from(site_offset - TEXT_OFFSET).unwrap();
    assert_eq!(&text[at..at + 5], &bytes[..]);
}

/// Scenario: SSL_read and SSL_peek both out of line, both raising only
/// SHOULD_NOT_HAVE_BEEN_CALLED and calling ssl_read_impl; SSL_read stores
/// its result into the SSL, SSL_peek into its stack frame.
/// Guarantees: SSL_read (the one storing to non-stack memory) is chosen,
/// not SSL_peek.
#[test]
fn ssl_peek_and_ssl_read_are_told_apart_by_the_store() {
    let b = Build {
        read: ReadShape::PeekOutOfLine { read_stores: true },
        ..Build::default()
    };
    let (built, funcs) = found(b);
    assert_ne!(Some(funcs.read.vaddr), built.peek);
}

/// Scenario: SSL_read and SSL_peek both out of line and neither stores to
/// non-stack memory.
/// Guarantees: refused with "2 SSL_read candidates": no guess between them.
#[test]
fn indistinguishable_ssl_peek_and_ssl_read_are_refused() {
    let built = build(Build {
        read: ReadShape::PeekOutOfLine { read_stores: false },
        ..Build::default()
    });
    assert_eq!(find(&built.image), Err(Refusal::ReadCandidates(2)));
}

/// Scenario: ssl_read_impl inlined into SSL_read (one function raising
/// SHOULD_NOT_HAVE_BEEN_CALLED, UNINITIALIZED and SSL_HANDSHAKE_FAILURE).
/// Guarantees: that function is SSL_read.
#[test]
fn ssl_read_with_its_impl_inlined_is_found() {
    for layout in [Layout::ReasonInEdx, Layout::ReasonInEsi] {
        found(Build {
            layout,
            read: ReadShape::ImplInlined,
            ..Build::default()
        });
    }
}

/// Scenario: near misses: the BAD_LENGTH reason patched to 112; two
/// functions raising SSL_write's reasons; no file-name string at all.
/// Guarantees: "0 SSL_write candidates", "2 SSL_write candidates", "no
/// ssl_lib.cc file name".
#[test]
fn near_misses_of_ssl_write_are_refused() {
    let patched = build(Build {
        bad_length_reason: 112,
        ..Build::default()
    });
    assert_eq!(find(&patched.image), Err(Refusal::WriteCandidates(0)));
    let twice = build(Build {
        second_write: true,
        ..Build::default()
    });
    assert_eq!(find(&twice.image), Err(Refusal::WriteCandidates(2)));
    let mut unnamed = build(Build::default());
    unnamed.image.segments[0].bytes.fill(0);
    assert_eq!(find(&unnamed.image), Err(Refusal::NoFileName));
}

/// Scenario: SSL_write's candidate not called directly by anything; not
/// starting with a push; zeroing %esi before reading it; and, with unwind
/// tables, a table that does not list it.
/// Guarantees: each of the first three is refused with the check that
/// failed, naming SSL_write; the last is not located (its sites do not
/// belong to the function the table puts them in).
#[test]
fn candidates_failing_an_entry_check_are_refused() {
    let check = |b: Build| match find(&build(b).image) {
        Err(Refusal::CheckFailed {
            function: "SSL_write",
            check,
            ..
        }) => check,
        other => panic!("{b:?}: {other:?}"),
    };
    assert_eq!(
        check(Build {
            write_called: false,
            ..Build::default()
        }),
        Check::NoDirectCaller
    );
    assert_eq!(
        check(Build {
            write_pushes_first: false,
            ..Build::default()
        }),
        Check::FirstInstruction
    );
    assert_eq!(
        check(Build {
            write_clobbers_rsi: true,
            ..Build::default()
        }),
        Check::ArgumentsNotRead
    );
    // An unwind table without SSL_write's start: the FDE before it (the
    // previous function) does not decode onto its sites, so they are lost
    // and SSL_write is not located at all.
    let mut built = build(Build {
        fde: true,
        ..Build::default()
    });
    if let Some(starts) = built.image.fde_starts.as_mut() {
        starts.retain(|s| *s != built.write);
    }
    assert!(matches!(
        find(&built.image),
        Err(Refusal::WriteCandidates(0) | Refusal::ErrRegistersUnclear { .. })
    ));
}

/// Scenario: a build whose sites all pass the same line number, so only
/// one register varies.
/// Guarantees: refused as "cannot tell ERR_put_error's registers apart".
#[test]
fn unclear_err_registers_are_refused() {
    let built = build(Build {
        constant_line: true,
        ..Build::default()
    });
    assert!(matches!(
        find(&built.image),
        Err(Refusal::ErrRegistersUnclear { .. })
    ));
}

/// Scenario: text segments of pseudo-random bytes sprinkled with `mov
/// $file,%ecx` and `lea file(%rip),%rcx` references, some at the very
/// ends of the segment; an unwind table of random starts; an empty image.
/// Guarantees: the finder returns (a refusal) without panicking.
#[test]
fn hostile_code_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let len = 4096 + (next() % 8192) as usize;
        let mut text: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        for _ in 0..60 {
            let at = (next() as usize) % (len - 7);
            text[at] = 0xb9;
            text[at + 1..at + 5].copy_from_slice(&(FILE_NAME_AT as u32).to_le_bytes());
            if round % 3 == 0 {
                text[at + 5] = 0xcc;
            }
        }
        let last = len - 5;
        text[last] = 0xb9;
        text[last + 1..].copy_from_slice(&(FILE_NAME_AT as u32).to_le_bytes());
        let lea_at = len - 7;
        let disp = FILE_NAME_AT.wrapping_sub(TEXT + lea_at as u64 + 7) as u32;
        text[lea_at..lea_at + 3].copy_from_slice(&[0x48, 0x8d, 0x0d]);
        text[lea_at + 3..].copy_from_slice(&disp.to_le_bytes());
        let fde_starts =
            (round % 2 == 1).then(|| (0..50).map(|_| TEXT + next() % len as u64).collect());
        let image = file_name_then_text(text, fde_starts);
        assert!(find(&image).is_err());
    }
    assert_eq!(find(&Image::default()), Err(Refusal::NoFileName));
}

/// Scenario: `.eh_frame_hdr` tables: a well-formed one, one whose count
/// runs past its bytes, one of another version, one with an 8-byte
/// `eh_frame_ptr`.
/// Guarantees: the first yields the sorted, absolute function starts; the
/// others yield none.
#[test]
fn eh_frame_hdr_tables_are_read_within_their_bytes() {
    let hdr_vaddr = 0x1000;
    let table = |version: u8, ptr_enc: u8, count: u32, entries: &[(i32, i32)]| {
        let mut b = vec![version, ptr_enc, 0x03, 0x3b];
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        for (loc, fde) in entries {
            b.extend_from_slice(&loc.to_le_bytes());
            b.extend_from_slice(&fde.to_le_bytes());
        }
        b
    };
    let entries = [(0x300, 0x10), (-0x200, 0x20), (0x100, 0x30)];
    assert_eq!(
        parse_fde_starts(&table(1, 0x1b, 3, &entries), hdr_vaddr),
        Some(vec![0xe00, 0x1100, 0x1300])
    );
    assert_eq!(
        parse_fde_starts(&table(1, 0x1b, 4, &entries), hdr_vaddr),
        None
    );
    assert_eq!(
        parse_fde_starts(&table(1, 0x1b, u32::MAX, &entries), hdr_vaddr),
        None
    );
    assert_eq!(
        parse_fde_starts(&table(2, 0x1b, 3, &entries), hdr_vaddr),
        None
    );
    assert_eq!(
        parse_fde_starts(&table(1, 0x1c, 3, &entries), hdr_vaddr),
        None
    );
    assert_eq!(parse_fde_starts(&[1, 0x1b], hdr_vaddr), None);
}

/// Scenario: files that are not x86-64 ELF: a text file, an empty file,
/// this test binary cut after 200 bytes.
/// Guarantees: each is refused with a reason, never a panic.
#[test]
fn files_that_are_not_elf_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text");
    std::fs::write(&text, b"../../vendor/boringssl/ssl/ssl_lib.cc\0").unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &exe[..200]).unwrap();
    for path in [&text, &empty] {
        let file = File::open(path).unwrap();
        assert_eq!(locate(&file), Err(Refusal::NotX86_64), "{}", path.display());
    }
    let file = File::open(&cut).unwrap();
    assert!(locate(&file).is_err());
}

/// Scenario: /bin/ls (an x86-64 ELF file without BoringSSL).
/// Guarantees: refused as having no ssl_lib.cc file name.
#[test]
fn a_binary_without_boringssl_has_no_file_name() {
    let ls = File::open("/bin/ls").unwrap();
    assert_eq!(locate(&ls), Err(Refusal::NoFileName));
}

/// Scenario: stock Bun 1.4.5 (no unwind tables, reason in %edx), where
/// the e2e set-up installed it.
/// Guarantees: SSL_write and SSL_read are at the file offsets the research
/// prototype (a separate, capstone-based implementation) found and bpftrace
/// confirmed carry the plaintext: 0x23ffc30 and 0x237e500. Prints the time
/// taken (a measurement, not asserted).
#[test]
fn stock_bun_1_4_5_is_located() {
    let Some(bun) = stock_bun_path() else {
        return;
    };
    let t = std::time::Instant::now();
    let funcs = locate(&File::open(bun).unwrap()).unwrap();
    eprintln!("located in {:?}: {funcs:x?}", t.elapsed());
    assert_eq!(funcs.write.offset, 0x23f_fc30);
    assert_eq!(funcs.read.offset, 0x237_e500);
    assert_eq!(funcs.bad_length_site.1.first(), Some(&0xba));
}

/// Scenario: a text segment holding more references to the file name than
/// [`MAX_SITES`] (each a `mov $file,%ecx`).
/// Guarantees: refused as too many sites before any decoding.
#[test]
fn too_many_references_are_refused() {
    let mut text = Vec::new();
    for _ in 0..=MAX_SITES {
        text.push(0xb9);
        text.extend_from_slice(&(FILE_NAME_AT as u32).to_le_bytes());
    }
    let image = file_name_then_text(text, None);
    assert_eq!(find(&image), Err(Refusal::TooManySites));
}
