//! The finder on the rustls test clients, with ground truth from their
//! symbol tables read by binutils (`nm`, `readelf`), not by the code under
//! test; on files without aws-lc; on mutated copies it must refuse; and
//! its site reading and classification on hand-made code.

use super::*;
use object::elf::PF_R;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `nm -S` of `path`: (vaddr, size) of the AEAD functions and of
/// `ERR_put_error`, by C name (the aws-lc-sys prefix dropped).
fn nm(path: &Path) -> BTreeMap<String, (u64, u64)> {
    let out = Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(path)
        .output()
        .expect("nm (binutils) is needed for the finder's ground truth");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let wanted = [
        "EVP_AEAD_CTX_seal",
        "EVP_AEAD_CTX_open",
        "EVP_AEAD_CTX_seal_scatter",
        "EVP_AEAD_CTX_open_gather",
        "ERR_put_error",
    ];
    let mut found = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [addr, size, _, name] = fields[..] else {
            continue;
        };
        let Some(c_name) = wanted
            .iter()
            .find(|w| name == **w || name.ends_with(&format!("_{w}")))
        else {
            continue;
        };
        let parse = |h: &str| u64::from_str_radix(h, 16).unwrap();
        found.insert(c_name.to_string(), (parse(addr), parse(size)));
    }
    found
}

/// `readelf -lW` of `path`: (type, vaddr, file offset, file size, executable).
fn program_headers(path: &Path) -> Vec<(String, u64, u64, u64, bool)> {
    let out = Command::new("readelf")
        .arg("-lW")
        .arg(path)
        .output()
        .expect("readelf (binutils) is needed for the finder's ground truth");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let hex = |h: &str| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (kind, offset, vaddr, filesz) = (f.first()?, f.get(1)?, f.get(2)?, f.get(4)?);
            let flags = f.get(6..f.len().saturating_sub(1))?.concat();
            Some((
                kind.to_string(),
                hex(vaddr)?,
                hex(offset)?,
                hex(filesz)?,
                flags.contains('E'),
            ))
        })
        .collect()
}

/// The file offset of `vaddr` by `readelf`'s executable `LOAD` segments.
fn file_offset(path: &Path, vaddr: u64) -> u64 {
    program_headers(path)
        .into_iter()
        .find(|(kind, v, _, size, exec)| kind == "LOAD" && *exec && vaddr >= *v && vaddr < v + size)
        .map(|(_, v, offset, _, _)| vaddr - v + offset)
        .unwrap_or_else(|| {
            panic!(
                "{vaddr:#x} is in no executable segment of {}",
                path.display()
            )
        })
}

/// A copy of `src` stripped of every symbol (`objcopy --strip-all`).
fn stripped_copy(dir: &Path, src: &Path) -> PathBuf {
    let out = dir.join("stripped");
    let status = Command::new("objcopy")
        .arg("--strip-all")
        .arg(src)
        .arg(&out)
        .status()
        .expect("objcopy (binutils) strips the test client");
    assert!(status.success());
    assert!(
        nm(&out).is_empty(),
        "the stripped copy still names functions"
    );
    out
}

fn locate(path: &Path) -> Result<AwsLcAead, AwsLcRefusal> {
    find_aead_entry_points(&File::open(path).unwrap())
}

fn bytes(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    File::open(path)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// The stripped aws-lc client in a temp dir, with its symbols from the
/// unstripped original.
struct Stripped {
    _dir: tempfile::TempDir,
    path: PathBuf,
    symbols: BTreeMap<String, (u64, u64)>,
}

impl Stripped {
    fn new() -> Stripped {
        let client = test_client_path("aws-lc");
        let dir = tempfile::tempdir().unwrap();
        let path = stripped_copy(dir.path(), &client);
        Stripped {
            _dir: dir,
            path,
            symbols: nm(&client),
        }
    }

    fn vaddr(&self, function: &str) -> u64 {
        self.symbols[function].0
    }

    /// (file offset, bytes) of a function in the stripped copy.
    fn code(&self, function: &str) -> (u64, Vec<u8>) {
        let (vaddr, size) = self.symbols[function];
        let offset = file_offset(&self.path, vaddr);
        (offset, bytes(&self.path, offset, size as usize))
    }

    /// Replaces `from` by `to` everywhere in a function's code; returns how often.
    fn replace_in(&self, function: &str, from: &[u8], to: &[u8]) -> usize {
        let (offset, code) = self.code(function);
        let hits: Vec<usize> = memmem::find_iter(&code, from).collect();
        for at in &hits {
            patch(&self.path, offset + *at as u64, to);
        }
        hits.len()
    }

    /// The decoded instructions of a function in the stripped copy.
    fn instructions(&self, function: &str) -> Vec<(u64, Instruction)> {
        let (offset, code) = self.code(function);
        let mut decoder = Decoder::with_ip(64, &code, self.vaddr(function), DecoderOptions::NONE);
        let mut out = Vec::new();
        while decoder.can_decode() {
            let insn = decoder.decode();
            out.push((offset + (insn.ip() - self.vaddr(function)), insn));
        }
        out
    }

    fn refusal(&self) -> AwsLcRefusal {
        locate(&self.path).expect_err("the mutated copy must be refused")
    }

    fn check_failed(&self, function: AeadFunction, check: Check) -> AwsLcRefusal {
        let name = function.name();
        AwsLcRefusal::CheckFailed {
            function,
            vaddr: self.vaddr(name),
            check,
        }
    }
}

/// Scenario: the aws-lc test client (aws-lc-sys 0.47, `.text` mapped
/// 0x1000 above its file offset) stripped of all symbols.
/// Guarantees: the structural finder returns EVP_AEAD_CTX_seal, _open and
/// _seal_scatter at the virtual addresses the unstripped client's symbols
/// give, and at the file offsets readelf's program headers make of them
/// (not the virtual addresses); the code there is the symbols' code.
/// Prints the bytes read and the time taken (a measurement, not asserted).
#[test]
fn stripped_client_is_located_at_its_symbols() {
    let s = Stripped::new();
    let t = std::time::Instant::now();
    let found = locate(&s.path).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{found}: {} bytes read in {:?}",
        found.bytes_read,
        t.elapsed()
    );
    assert_eq!(found.located_by, LocatedBy::Structure);
    let client = test_client_path("aws-lc");
    for (name, entry) in [
        ("EVP_AEAD_CTX_seal", Some(found.seal)),
        ("EVP_AEAD_CTX_open", Some(found.open)),
        ("EVP_AEAD_CTX_seal_scatter", found.seal_scatter),
    ] {
        let entry = entry.unwrap_or_else(|| panic!("{name} not found"));
        let vaddr = s.vaddr(name);
        assert_eq!(entry.vaddr, vaddr, "{name}");
        assert_eq!(entry.offset, file_offset(&s.path, vaddr), "{name}");
        assert_ne!(
            entry.offset, entry.vaddr,
            "{name}: the client maps code above its offset"
        );
        assert_eq!(
            bytes(&s.path, entry.offset, 32),
            bytes(&client, file_offset(&client, vaddr), 32),
            "{name}"
        );
    }
}

/// Scenario: the unstripped aws-lc client (symbols `aws_lc_0_47_0_EVP_AEAD_CTX_*`).
/// Guarantees: it is located by its symbols at nm's addresses, and the
/// structural method on the same file finds the same entry points.
#[test]
fn unstripped_client_is_located_by_symbols_and_structure_agrees() {
    let client = test_client_path("aws-lc");
    let symbols = nm(&client);
    let found = locate(&client).unwrap();
    assert_eq!(found.located_by, LocatedBy::Symbols);
    let entry = |name: &str| {
        let vaddr = symbols[name].0;
        EntryPoint {
            vaddr,
            offset: file_offset(&client, vaddr),
        }
    };
    assert_eq!(found.seal, entry("EVP_AEAD_CTX_seal"));
    assert_eq!(found.open, entry("EVP_AEAD_CTX_open"));
    assert_eq!(found.seal_scatter, Some(entry("EVP_AEAD_CTX_seal_scatter")));

    let file = File::open(&client).unwrap();
    let structure = by_structure(&file, &Layout::read(&file).unwrap()).unwrap();
    assert_eq!(structure.located_by, LocatedBy::Structure);
    assert_eq!(
        (structure.seal, structure.open, structure.seal_scatter),
        (found.seal, found.open, found.seal_scatter)
    );
}

/// Scenario: files without aws-lc: the ring test client (rustls + ring),
/// the system libssl.so.3 and libcrypto.so.3 (OpenSSL), curl and node
/// where installed, and stock Bun (BoringSSL, whose file is
/// `aead.cc.inc`); then this test binary (links ring), which carries the
/// finder's own `crypto/fipsmodule/cipher/aead.c` constant but no code
/// raising errors with it.
/// Guarantees: the first are refused as having no aead.c file name; the
/// test binary as having no EVP_AEAD_CTX_seal candidate. Prints the time
/// each took (a measurement, not asserted).
#[test]
fn files_without_aws_lc_are_refused() {
    let mut files = vec![test_client_path("ring")];
    for optional in [
        "/usr/lib/x86_64-linux-gnu/libssl.so.3",
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
        "/usr/bin/curl",
        "/usr/bin/node",
    ] {
        if Path::new(optional).exists() {
            files.push(optional.into());
        }
    }
    files.extend(crate::ebpf::boringssl::stock_bun_path());
    for path in files {
        let t = std::time::Instant::now();
        assert_eq!(
            locate(&path),
            Err(AwsLcRefusal::NoFileName),
            "{}",
            path.display()
        );
        eprintln!("{} refused in {:?}", path.display(), t.elapsed());
    }
    // How many of its functions load the constant depends on the compiler.
    assert!(matches!(
        locate(&std::env::current_exe().unwrap()),
        Err(AwsLcRefusal::Candidates {
            function: AeadFunction::Seal,
            count: 0,
            ..
        })
    ));
}

/// Scenario: the stripped client with EVP_AEAD_CTX_seal's TOO_LARGE reason
/// (`mov $117,%edx`) changed to INVALID_OPERATION (112).
/// Guarantees: refused with "0 EVP_AEAD_CTX_seal candidates".
#[test]
fn seal_without_its_reason_is_refused() {
    let s = Stripped::new();
    let mov = |r: u8| [0xba, r, 0, 0, 0];
    assert_eq!(s.replace_in("EVP_AEAD_CTX_seal", &mov(117), &mov(112)), 1);
    assert_eq!(
        s.refusal(),
        AwsLcRefusal::Candidates {
            function: AeadFunction::Seal,
            count: 0,
            unreadable: 0
        }
    );
}

/// Scenario: the stripped client with EVP_AEAD_CTX_open's BAD_DECRYPT
/// reason changed to TOO_LARGE, so open raises seal's reasons.
/// Guarantees: refused with "2 EVP_AEAD_CTX_seal candidates".
#[test]
fn two_functions_raising_seals_reasons_are_refused() {
    let s = Stripped::new();
    let mov = |r: u8| [0xba, r, 0, 0, 0];
    assert_eq!(s.replace_in("EVP_AEAD_CTX_open", &mov(101), &mov(117)), 1);
    assert!(matches!(
        s.refusal(),
        AwsLcRefusal::Candidates {
            function: AeadFunction::Seal,
            count: 2,
            ..
        }
    ));
}

/// Scenario: the stripped client with EVP_AEAD_CTX_seal's first
/// instruction (`push %r13`) replaced by `nop`s of the same length.
/// Guarantees: refused: seal's first instruction is not an emulated push.
#[test]
fn a_first_instruction_the_kernel_does_not_emulate_is_refused() {
    let s = Stripped::new();
    let (offset, first) = s.instructions("EVP_AEAD_CTX_seal")[0];
    assert_eq!(first.code(), Code::Push_r64);
    patch(&s.path, offset, &vec![0x90; first.len()]);
    assert_eq!(
        s.refusal(),
        s.check_failed(AeadFunction::Seal, Check::FirstInstruction)
    );
}

/// Scenario: the stripped client with EVP_AEAD_CTX_seal's indirect call
/// (through the method table) replaced by `nop`s.
/// Guarantees: refused: seal makes no indirect call.
#[test]
fn seal_without_its_indirect_call_is_refused() {
    let s = Stripped::new();
    let calls: Vec<(u64, Instruction)> = s
        .instructions("EVP_AEAD_CTX_seal")
        .into_iter()
        .filter(|(_, i)| i.flow_control() == FlowControl::IndirectCall)
        .collect();
    assert_eq!(calls.len(), 1);
    let (offset, call) = calls[0];
    patch(&s.path, offset, &vec![0x90; call.len()]);
    assert_eq!(
        s.refusal(),
        s.check_failed(AeadFunction::Seal, Check::NoIndirectCall)
    );
}

/// Scenario: the stripped client with one of EVP_AEAD_CTX_seal's calls to
/// ERR_put_error redirected 16 bytes further.
/// Guarantees: refused: seal's error sites do not all call the shared
/// ERR_put_error.
#[test]
fn an_error_site_calling_elsewhere_is_refused() {
    let s = Stripped::new();
    let err_put_error = s.vaddr("ERR_put_error");
    let (offset, call) = s
        .instructions("EVP_AEAD_CTX_seal")
        .into_iter()
        .find(|(_, i)| {
            i.flow_control() == FlowControl::Call && i.near_branch_target() == err_put_error
        })
        .unwrap();
    let rel = (err_put_error + 16).wrapping_sub(call.next_ip()) as u32;
    patch(&s.path, offset + 1, &rel.to_le_bytes());
    assert_eq!(
        s.refusal(),
        s.check_failed(AeadFunction::Seal, Check::ErrPutErrorNotShared)
    );
}

/// Scenario: the stripped client with every `mov $30,%edi` (ERR_LIB_CIPHER)
/// in EVP_AEAD_CTX_seal changed to library 31.
/// Guarantees: refused: seal's error sites do not pass ERR_LIB_CIPHER.
#[test]
fn error_sites_of_another_library_are_refused() {
    let s = Stripped::new();
    let lib = |l: u8| [0xbf, l, 0, 0, 0];
    assert_eq!(s.replace_in("EVP_AEAD_CTX_seal", &lib(30), &lib(31)), 3);
    assert_eq!(
        s.refusal(),
        s.check_failed(AeadFunction::Seal, Check::NotCipherLibrary)
    );
}

/// Scenario: the stripped client cut to half its size, to 100 bytes, to
/// nothing; a text file.
/// Guarantees: each is refused (unreadable, or not x86-64 ELF), never a panic.
#[test]
fn truncated_files_are_refused() {
    let s = Stripped::new();
    let whole = std::fs::read(&s.path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for len in [whole.len() / 2, 100, 0] {
        let cut = dir.path().join(format!("cut-{len}"));
        std::fs::write(&cut, &whole[..len]).unwrap();
        let refusal = locate(&cut).expect_err("a truncated file is refused");
        assert!(
            matches!(
                refusal,
                AwsLcRefusal::Unreadable(_) | AwsLcRefusal::NotX86_64
            ),
            "{len}: {refusal}"
        );
    }
    let text = dir.path().join("text");
    std::fs::write(&text, b"/aws-lc/crypto/fipsmodule/cipher/aead.c\0").unwrap();
    assert_eq!(locate(&text), Err(AwsLcRefusal::NotX86_64));
}

/// The stripped copy's `.eh_frame_hdr` (file offset, size).
fn eh_frame_hdr(path: &Path) -> (u64, u64) {
    program_headers(path)
        .into_iter()
        .find(|p| p.0 == "GNU_EH_FRAME")
        .map(|(_, _, offset, size, _)| (offset, size))
        .unwrap()
}

/// Scenario: the stripped client with its `.eh_frame_hdr` overwritten by
/// 0xff bytes; then with a well-formed header whose table holds
/// pseudo-random function starts.
/// Guarantees: the first is refused for lack of an unwind table, the
/// second refused too (its sites fall in no function that passes), neither
/// panics.
#[test]
fn garbage_unwind_tables_are_refused() {
    let s = Stripped::new();
    let (offset, size) = eh_frame_hdr(&s.path);
    let original = bytes(&s.path, offset, size as usize);
    patch(&s.path, offset, &vec![0xff; size as usize]);
    assert_eq!(s.refusal(), AwsLcRefusal::NoUnwindTable);

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut table = original.clone();
    for entry in table[12..].chunks_exact_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        entry[..4].copy_from_slice(&(seed as u32 % 0x60_0000).to_le_bytes());
    }
    patch(&s.path, offset, &table);
    let refusal = s.refusal();
    assert_ne!(refusal, AwsLcRefusal::NoUnwindTable);
    eprintln!("random unwind table: {refusal}");
}

/// Scenario: a copy of the stripped client whose executable segment was
/// moved to the end of the file (its program header's `p_offset` patched,
/// the old bytes zeroed; virtual addresses unchanged, section headers
/// still pointing at the old place).
/// Guarantees: the entry points are found at the same virtual addresses
/// and at file offsets inside the moved segment, where the functions'
/// code now is.
#[test]
fn code_is_read_and_offsets_converted_through_the_program_headers() {
    let s = Stripped::new();
    let before = locate(&s.path).unwrap();
    let mut elf = std::fs::read(&s.path).unwrap();
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (
        u64_at(&elf, 0x20) as usize,
        u16_at(&elf, 0x36) as usize,
        u16_at(&elf, 0x38) as usize,
    );
    let header = (0..phnum)
        .map(|k| phoff + k * phentsize)
        .find(|h| {
            let (kind, flags) = (
                u32::from_le_bytes(elf[*h..*h + 4].try_into().unwrap()),
                u32::from_le_bytes(elf[*h + 4..*h + 8].try_into().unwrap()),
            );
            kind == PT_LOAD && flags & PF_X != 0
        })
        .unwrap();
    let (old, vaddr, size) = (
        u64_at(&elf, header + 8) as usize,
        u64_at(&elf, header + 16),
        u64_at(&elf, header + 32) as usize,
    );
    let new = elf.len().div_ceil(0x1000) * 0x1000 + (vaddr as usize % 0x1000);
    let code = elf[old..old + size].to_vec();
    elf.resize(new, 0);
    elf.extend_from_slice(&code);
    elf[old..old + size].fill(0);
    elf[header + 8..header + 16].copy_from_slice(&(new as u64).to_le_bytes());
    let moved = s.path.with_file_name("moved");
    std::fs::write(&moved, &elf).unwrap();

    let after = locate(&moved).unwrap_or_else(|e| panic!("{e}"));
    let shifted = |e: EntryPoint| EntryPoint {
        vaddr: e.vaddr,
        offset: e.vaddr - vaddr + new as u64,
    };
    assert_eq!(after.seal, shifted(before.seal));
    assert_eq!(after.open, shifted(before.open));
    assert_eq!(after.seal_scatter, before.seal_scatter.map(shifted));
    assert_ne!(after.seal.offset, before.seal.offset);
    assert_eq!(
        bytes(&moved, after.seal.offset, 32),
        bytes(&s.path, before.seal.offset, 32)
    );
}

/// Scenario: a directory without the test clients.
/// Guarantees: asking for one fails, naming the script that builds them.
#[test]
#[should_panic(expected = "scripts/build-test-clients.sh")]
fn a_missing_test_client_fails_naming_its_build_script() {
    let dir = tempfile::tempdir().unwrap();
    test_client_in(dir.path(), "aws-lc");
}

/// Scenario: symbol names: the C names, aws-lc-sys' versioned and FIPS
/// forms, and near misses (another library's prefix, a suffix of a longer
/// name, `open_gather`, upper-case prefix).
/// Guarantees: only the C names and `aws_lc_<version>_` forms are taken.
#[test]
fn aead_symbol_names_are_matched_exactly() {
    let cases: [(&[u8], Option<AeadFunction>); 9] = [
        (b"EVP_AEAD_CTX_seal", Some(AeadFunction::Seal)),
        (b"aws_lc_0_47_0_EVP_AEAD_CTX_open", Some(AeadFunction::Open)),
        (
            b"aws_lc_0_22_0_EVP_AEAD_CTX_seal_scatter",
            Some(AeadFunction::SealScatter),
        ),
        (
            b"aws_lc_fips_0_13_0_EVP_AEAD_CTX_seal",
            Some(AeadFunction::Seal),
        ),
        (b"ring_core_0_17_14_EVP_AEAD_CTX_seal", None),
        (b"my_EVP_AEAD_CTX_seal", None),
        (b"aws_lc_0_47_0_EVP_AEAD_CTX_open_gather", None),
        (b"AWS_LC_0_47_0_EVP_AEAD_CTX_seal", None),
        (b"aws_lc_0_47_0EVP_AEAD_CTX_seal", None),
    ];
    for (name, want) in cases {
        assert_eq!(aead_symbol(name), want, "{}", String::from_utf8_lossy(name));
    }
}

/// Scenario: reason sets of the four functions as built (open with and
/// without open_gather inlined), and near misses.
/// Guarantees: each set is its function; a set with a reason its function
/// never raises, or missing one it raises, is none.
#[test]
fn reason_sets_classify_the_functions() {
    let set = |r: &[u64]| r.iter().copied().collect::<BTreeSet<u64>>();
    let cases: [(&[u64], Option<AeadFunction>); 9] = [
        (&[117, 103, 115], Some(AeadFunction::Seal)),
        (&[115, 101, 103], Some(AeadFunction::Open)),
        (&[115, 101, 103, 104], Some(AeadFunction::Open)),
        (&[115, 112], Some(AeadFunction::SealScatter)),
        (&[115, 104], Some(AeadFunction::OpenGather)),
        (&[117, 103, 115, 101], None),
        (&[117, 103], None),
        (&[115, 112, 103], None),
        (&[115], None),
    ];
    for (reasons, want) in cases {
        assert_eq!(AeadFunction::classify(&set(reasons)), want, "{reasons:?}");
    }
}

/// Decodes `code` at address 0x1000.
fn decode(code: &[u8]) -> Vec<Instruction> {
    let mut decoder = Decoder::with_ip(64, code, 0x1000, DecoderOptions::NONE);
    let mut out = Vec::new();
    while decoder.can_decode() {
        out.push(decoder.decode());
    }
    out
}

const MOV_EDX_115: [u8; 5] = [0xba, 115, 0, 0, 0];
const MOV_EDI_30: [u8; 5] = [0xbf, 30, 0, 0, 0];
const XOR_ESI: [u8; 2] = [0x31, 0xf6];
/// `lea 0x100(%rip),%rcx`.
const LEA_FILE: [u8; 7] = [0x48, 0x8d, 0x0d, 0, 1, 0, 0];
/// `call` 0x800 bytes further.
const CALL: [u8; 5] = [0xe8, 0, 8, 0, 0];

fn site_in(code: &[&[u8]]) -> Option<SiteReading> {
    let code = code.concat();
    let body = decode(&code);
    let site = body
        .iter()
        .find(|i| i.code() == Code::Lea_r64_m)
        .map(Instruction::ip)
        .unwrap();
    read_site(&mut InstructionInfoFactory::new(), &body, site)
}

/// Scenario: error-site code: the reason loaded before the file name
/// (clang's order in aws-lc-sys builds) and after it (Codex's); a call
/// tail shared through a `jmp`; the reason register overwritten by a
/// register move before the call; `%rcx` overwritten after the file
/// name; the site as a branch target with the reason loaded in another
/// block.
/// Guarantees: the first three read reason 115, library 30 and the call's
/// target; the others are unreadable.
#[test]
fn error_sites_are_read_along_their_straight_line_code() {
    // The reading of a site whose call ends `call_end` bytes into the code.
    let want = |call_end: u64| {
        Some(SiteReading {
            reason: 115,
            library: Some(30),
            callee: 0x1000 + call_end + 0x800,
        })
    };
    assert_eq!(
        site_in(&[&MOV_EDX_115, &MOV_EDI_30, &LEA_FILE, &XOR_ESI, &CALL]),
        want(24)
    );
    assert_eq!(
        site_in(&[&LEA_FILE, &MOV_EDX_115, &MOV_EDI_30, &CALL, &[0xc3]]),
        want(22)
    );
    // lea; mov edx; jmp tail; (int3 x2); tail: mov edi; call
    assert_eq!(
        site_in(&[
            &LEA_FILE,
            &MOV_EDX_115,
            &[0xeb, 0x02, 0xcc, 0xcc],
            &MOV_EDI_30,
            &CALL
        ]),
        want(26)
    );
    // mov $115,%edx; lea; mov %rax,%rdx; call
    assert_eq!(
        site_in(&[
            &MOV_EDX_115,
            &LEA_FILE,
            &[0x48, 0x89, 0xc2],
            &MOV_EDI_30,
            &CALL
        ]),
        None
    );
    // lea; mov $115,%edx; mov %rax,%rcx; call
    assert_eq!(
        site_in(&[
            &LEA_FILE,
            &MOV_EDX_115,
            &[0x48, 0x89, 0xc1],
            &MOV_EDI_30,
            &CALL
        ]),
        None
    );
    // mov $115,%edx; jmp site; (mov $0,%edx); site: lea; call -- the
    // site's block starts at the branch target, where %edx is not known.
    assert_eq!(
        site_in(&[
            &MOV_EDX_115,
            &[0xeb, 0x05],
            &[0xba, 0, 0, 0, 0],
            &LEA_FILE,
            &MOV_EDI_30,
            &CALL
        ]),
        None
    );
}

/// Where [`tiny_elf`] maps its read-only data, its unwind table and its code.
const TINY_RODATA: u64 = 0x40_1000;
const TINY_EH_FRAME_HDR: u64 = 0x40_1800;
const TINY_TEXT: u64 = 0x40_3000;

/// A minimal x86-64 ELF executable without section headers: `rodata`
/// mapped read-only at [`TINY_RODATA`] (file offset 0x1000), an
/// `.eh_frame_hdr` listing `fde_starts` at [`TINY_EH_FRAME_HDR`] when
/// there are any, and `text` mapped executable at [`TINY_TEXT`] (file
/// offset 0x2000).
fn tiny_elf(rodata: &[u8], fde_starts: &[u64], text: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 0x2000];
    elf[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    elf[20..24].copy_from_slice(&1u32.to_le_bytes());
    elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf[52..54].copy_from_slice(&64u16.to_le_bytes());
    elf[54..56].copy_from_slice(&56u16.to_le_bytes());
    elf[58..60].copy_from_slice(&64u16.to_le_bytes());
    let mut hdr = vec![1, 0x1b, 0x03, 0x3b, 0, 0, 0, 0];
    hdr.extend_from_slice(&(fde_starts.len() as u32).to_le_bytes());
    for start in fde_starts {
        hdr.extend_from_slice(&(start.wrapping_sub(TINY_EH_FRAME_HDR) as u32).to_le_bytes());
        hdr.extend_from_slice(&0u32.to_le_bytes());
    }
    let mut segments = vec![
        (PT_LOAD, PF_R, 0x1000u64, TINY_RODATA, rodata.len() as u64),
        (PT_LOAD, PF_R | PF_X, 0x2000, TINY_TEXT, text.len() as u64),
    ];
    if !fde_starts.is_empty() {
        segments.push((
            PT_GNU_EH_FRAME,
            PF_R,
            0x1800,
            TINY_EH_FRAME_HDR,
            hdr.len() as u64,
        ));
        elf[0x1800..0x1800 + hdr.len()].copy_from_slice(&hdr);
    }
    elf[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
    for (k, (kind, flags, offset, vaddr, size)) in segments.into_iter().enumerate() {
        let h = 64 + k * 56;
        elf[h..h + 4].copy_from_slice(&kind.to_le_bytes());
        elf[h + 4..h + 8].copy_from_slice(&flags.to_le_bytes());
        for (at, value) in [
            (8, offset),
            (16, vaddr),
            (24, vaddr),
            (32, size),
            (40, size),
        ] {
            elf[h + at..h + at + 8].copy_from_slice(&value.to_le_bytes());
        }
    }
    elf[0x1000..0x1000 + rodata.len()].copy_from_slice(rodata);
    elf.extend_from_slice(text);
    elf
}

/// `count` instructions `lea target(%rip),%rcx` at [`TINY_TEXT`].
fn leas_of(target: u64, count: usize) -> Vec<u8> {
    let mut text = Vec::new();
    for _ in 0..count {
        let next = TINY_TEXT + text.len() as u64 + 7;
        text.extend_from_slice(&LEA_RIP_RCX);
        text.extend_from_slice(&(target.wrapping_sub(next) as u32).to_le_bytes());
    }
    text
}

fn locate_bytes(elf: &[u8]) -> Result<AwsLcAead, AwsLcRefusal> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny");
    std::fs::write(&path, elf).unwrap();
    locate(&path)
}

/// Scenario: tiny ELF files holding aws-lc's file name: referenced by
/// [`MAX_SITES`] + 1 `lea`s, and by [`MAX_SITES`], without an unwind
/// table; the file name in the code segment instead of the read-only data
/// (a linker merging them); with an unwind table, `lea`s of the string's
/// start, of its suffix, and of the byte after the suffix's start.
/// Guarantees: too many sites are refused before any decoding; the file
/// name is found in either segment and then an unwind table is required;
/// pointers to the string's start and to its suffix are error sites (read
/// as unreadable here: no call follows), the byte after is not one.
#[test]
fn file_name_references_and_the_unwind_table() {
    let name = b"\0/build/aws-lc/crypto/fipsmodule/cipher/aead.c\0";
    let start = TINY_RODATA + 1;
    let suffix = TINY_RODATA + (name.len() - FILE_NAME_SUFFIX.len()) as u64;
    assert_eq!(
        locate_bytes(&tiny_elf(name, &[], &leas_of(start, MAX_SITES + 1))),
        Err(AwsLcRefusal::TooManySites)
    );
    assert_eq!(
        locate_bytes(&tiny_elf(name, &[], &leas_of(start, MAX_SITES))),
        Err(AwsLcRefusal::NoUnwindTable)
    );
    let mut text = leas_of(TINY_TEXT + 8, 1);
    text.push(0xc3);
    text.extend_from_slice(name);
    assert_eq!(
        locate_bytes(&tiny_elf(b"", &[], &text)),
        Err(AwsLcRefusal::NoUnwindTable)
    );
    let seal_candidates = |unreadable| {
        Err(AwsLcRefusal::Candidates {
            function: AeadFunction::Seal,
            count: 0,
            unreadable,
        })
    };
    for (target, unreadable) in [(start, 1), (suffix, 1), (suffix + 1, 0)] {
        let mut text = leas_of(target, 1);
        text.push(0xc3);
        assert_eq!(
            locate_bytes(&tiny_elf(name, &[TINY_TEXT], &text)),
            seal_candidates(unreadable),
            "{target:#x}"
        );
    }
}

/// Scenario: reads against the byte budget: one that would pass
/// [`MAX_READ_BYTES`], one within it.
/// Guarantees: the first is refused as too large before reading; the
/// second returns the bytes.
#[test]
fn reads_stop_at_the_byte_budget() {
    let exe = File::open(std::env::current_exe().unwrap()).unwrap();
    let mut near_full = Reader {
        file: &exe,
        read: MAX_READ_BYTES - 8,
    };
    assert_eq!(near_full.read(0, 16), Err(AwsLcRefusal::TooLarge));
    let mut fresh = Reader {
        file: &exe,
        read: 0,
    };
    assert_eq!(fresh.read(0, 4).unwrap(), b"\x7fELF");
    assert_eq!(fresh.read, 4);
}

/// Builds a shared object from `source`, stripped of `.symtab` (its
/// exported functions stay in `.dynsym`); returns (stripped, unstripped).
fn shared_object(dir: &Path, name: &str, source: &str) -> (PathBuf, PathBuf) {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let full = dir.join(format!("{name}.so"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&full)
        .arg(&src)
        .status()
        .expect("cc builds the ELF fixtures");
    assert!(status.success());
    let stripped = dir.join(format!("{name}-stripped.so"));
    let status = Command::new("objcopy")
        .arg("--strip-all")
        .arg(&full)
        .arg(&stripped)
        .status()
        .unwrap();
    assert!(status.success());
    (stripped, full)
}

/// Scenario: shared objects exporting (in `.dynsym`, `.symtab` stripped):
/// EVP_AEAD_CTX_seal and EVP_AEAD_CTX_open; those plus a second seal
/// under aws-lc-sys' prefix at another address; only the seal.
/// Guarantees: the first is located by symbols at nm's addresses and
/// readelf's file offsets, without seal_scatter; the others are not
/// located by symbols (ambiguous, incomplete) and fall to the structure,
/// which finds no aws-lc file name.
#[test]
fn symbols_must_name_one_seal_and_one_open() {
    let dir = tempfile::tempdir().unwrap();
    let pair = "int EVP_AEAD_CTX_seal(int x) { return x + 1; }\n\
                int EVP_AEAD_CTX_open(int x) { return x * 3; }\n";
    let (stripped, full) = shared_object(dir.path(), "pair", pair);
    let found = locate(&stripped).unwrap();
    let symbols = nm(&full);
    let entry = |name: &str| EntryPoint {
        vaddr: symbols[name].0,
        offset: file_offset(&stripped, symbols[name].0),
    };
    assert_eq!(found.located_by, LocatedBy::Symbols);
    assert_eq!(found.seal, entry("EVP_AEAD_CTX_seal"));
    assert_eq!(found.open, entry("EVP_AEAD_CTX_open"));
    assert_eq!(found.seal_scatter, None);

    let twice = format!("{pair}int aws_lc_0_1_0_EVP_AEAD_CTX_seal(int x) {{ return x - 5; }}\n");
    let (stripped, _) = shared_object(dir.path(), "twice", &twice);
    assert_eq!(locate(&stripped), Err(AwsLcRefusal::NoFileName));
    let (stripped, _) = shared_object(
        dir.path(),
        "seal-only",
        "int EVP_AEAD_CTX_seal(int x) { return x + 1; }\n",
    );
    assert_eq!(locate(&stripped), Err(AwsLcRefusal::NoFileName));
}
