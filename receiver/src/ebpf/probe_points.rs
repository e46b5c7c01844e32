//! Where each `SSL_*` uprobe sits, so that a probe hit stays cheap.
//!
//! A uprobe replaces the probed instruction with `int3`. On a hit the kernel
//! runs the programs, then must execute the displaced instruction: x86-64
//! emulates a few kinds in place (`push reg`, `call`/`jmp rel`, `jcc`) and
//! single-steps every other one out of line, which costs a second trap (a
//! debug exception). On this VM that single step is most of a uprobe's cost:
//! an empty uprobe + uretprobe on `SSL_read_ex` (which starts with
//! `sub $8,%rsp`) costs several times a pair on an instruction the kernel
//! emulates. A uretprobe must sit on a function's first instruction (the
//! return address is on top of the stack there), so for a function whose
//! first instruction is not emulated, the probes go one call deeper:
//!
//! - An `_ex` function whose first instruction is emulated (node's static
//!   OpenSSL starts with `push %rbp`) is probed where it is.
//! - An `_ex` function that only adjusts the stack, then calls or jumps to
//!   another function with its arguments untouched and returns right after
//!   (OpenSSL 1.1.1 - 3.1: `SSL_write_ex` is `sub $8,%rsp; call
//!   ssl_write_internal`, a few register-only instructions, `ret`) is probed
//!   at that callee when the callee starts with an emulated instruction: it
//!   has the same arguments and success means the same (result > 0, count
//!   in `*written` / `*readbytes`).
//! - `SSL_write` / `SSL_read` whose first instruction is not emulated are
//!   not probed at all when their body calls the function that carries the
//!   `_ex` probes (they are wrappers around it): every byte they move passes
//!   through that function. Otherwise they are probed where they are; where
//!   both an outer and an inner function are probed, the kernel side
//!   captures the call once (see tls.bpf.h).
//! - Everything else (other architectures, other code shapes) is probed at
//!   the exported symbol: correct, only slower.

use oispd_receiver_ebpf::programs;

/// An exported function: its address and size (from the dynamic symbol table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Func {
    /// Virtual address.
    pub vaddr: u64,
    /// Size in bytes (0 when the symbol does not say).
    pub size: u64,
}

/// The exported OpenSSL functions of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SslFuncs {
    /// `SSL_write`
    pub write: Func,
    /// `SSL_read`
    pub read: Func,
    /// `SSL_write_ex` (OpenSSL 1.1.1+)
    pub write_ex: Option<Func>,
    /// `SSL_read_ex` (OpenSSL 1.1.1+)
    pub read_ex: Option<Func>,
    /// `SSL_free`
    pub free: Option<Func>,
}

/// One uprobe to attach: a program at a virtual address of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Point {
    /// The eBPF program.
    pub program: &'static str,
    /// Where, as a virtual address of the file.
    pub vaddr: u64,
}

/// Bytes read from the start of a function to recognise a forwarding prologue.
pub(crate) const PROLOGUE_BYTES: usize = 64;
/// Bytes of a plain `SSL_write`/`SSL_read` body searched for a call at most.
pub(crate) const BODY_BYTES: usize = 4096;

/// The probes for `funcs`. `x86_64`: whether the code is x86-64 (the
/// analysis applies only there). `code(vaddr, len)` returns up to `len`
/// bytes of code at `vaddr` (fewer at the end of the segment), `None` when
/// the address is not in the file.
pub(crate) fn plan(
    funcs: &SslFuncs,
    x86_64: bool,
    code: impl Fn(u64, usize) -> Option<Vec<u8>>,
) -> Vec<Point> {
    let emulated_at =
        |vaddr: u64| x86_64 && code(vaddr, PROLOGUE_BYTES).is_some_and(|c| first_insn_emulated(&c));
    // The address that carries an `_ex` function's probes.
    let ex_site = |f: Func| -> u64 {
        if !x86_64 || emulated_at(f.vaddr) {
            return f.vaddr;
        }
        code(f.vaddr, PROLOGUE_BYTES)
            .and_then(|c| forward_target(&c, f.vaddr))
            .filter(|&target| emulated_at(target))
            .unwrap_or(f.vaddr)
    };
    let mut points = Vec::new();
    let directions = [
        (
            funcs.write,
            funcs.write_ex,
            programs::SSL_WRITE_ENTER,
            programs::SSL_WRITE_EX_ENTER,
        ),
        (
            funcs.read,
            funcs.read_ex,
            programs::SSL_READ_ENTER,
            programs::SSL_READ_EX_ENTER,
        ),
    ];
    for (plain, ex, plain_enter, ex_enter) in directions {
        let site = ex.map(ex_site);
        if let Some(site) = site {
            points.push(Point {
                program: ex_enter,
                vaddr: site,
            });
            points.push(Point {
                program: programs::SSL_EX_RET,
                vaddr: site,
            });
        }
        let wrapper = x86_64
            && !emulated_at(plain.vaddr)
            && site.is_some_and(|site| {
                let len = usize::try_from(plain.size).unwrap_or(BODY_BYTES);
                code(plain.vaddr, len.min(BODY_BYTES))
                    .is_some_and(|body| branches_to(&body, plain.vaddr, site))
            });
        if !wrapper {
            points.push(Point {
                program: plain_enter,
                vaddr: plain.vaddr,
            });
            points.push(Point {
                program: programs::SSL_RET,
                vaddr: plain.vaddr,
            });
        }
    }
    if let Some(free) = funcs.free {
        points.push(Point {
            program: programs::SSL_FREE_ENTER,
            vaddr: free.vaddr,
        });
    }
    points
}

/// Whether the first instruction of `code` is one the x86-64 uprobe code
/// emulates instead of single-stepping: `push reg` (with at most a REX.B
/// prefix), `call rel32`, `jmp rel8/rel32`, `jcc rel8/rel32`, no other prefix.
pub(crate) fn first_insn_emulated(code: &[u8]) -> bool {
    matches!(
        code,
        // push reg, push r8-r15
        [0x50..=0x57, ..]
            | [0x41, 0x50..=0x57, ..]
            // call rel32, jmp rel32, jmp rel8, jcc rel8, jcc rel32
            | [0xe8 | 0xe9, _, _, _, _, ..]
            | [0xeb | 0x70..=0x7f, _, ..]
            | [0x0f, 0x80..=0x8f, _, _, _, _, ..]
    )
}

/// When `code` (at `vaddr`) only moves the stack pointer (and frame pointer)
/// and then calls or jumps to another function, that function's address:
/// the arguments arrive there as they were passed. Recognised before the
/// branch: `endbr64`, `push reg`, `sub/add $imm,%rsp`, `mov %rsp,%rbp`, nops.
/// After a call, the function must only adjust the result and registers
/// and return ([`quiet_return`]): a wrapper that calls something else
/// first, or goes on after the call, is not a forwarder.
pub(crate) fn forward_target(code: &[u8], vaddr: u64) -> Option<u64> {
    let mut at = 0usize;
    for _ in 0..8 {
        let rest = code.get(at..)?;
        let len = match rest {
            // call rel32
            [0xe8, a, b, c, d, after @ ..] => {
                if !quiet_return(after) {
                    return None;
                }
                let rel = i32::from_le_bytes([*a, *b, *c, *d]);
                return branch_target(vaddr, at + 5, i64::from(rel));
            }
            // jmp rel32 (a tail call)
            [0xe9, a, b, c, d, ..] => {
                let rel = i32::from_le_bytes([*a, *b, *c, *d]);
                return branch_target(vaddr, at + 5, i64::from(rel));
            }
            // jmp rel8
            [0xeb, r, ..] => {
                return branch_target(vaddr, at + 2, i64::from(*r as i8));
            }
            // endbr64
            [0xf3, 0x0f, 0x1e, 0xfa, ..] => 4,
            // push reg; push r8-r15
            [0x50..=0x57, ..] => 1,
            [0x41, 0x50..=0x57, ..] => 2,
            // sub/add $imm8,%rsp; sub/add $imm32,%rsp
            [0x48, 0x83, 0xec | 0xc4, _, ..] => 4,
            [0x48, 0x81, 0xec | 0xc4, _, _, _, _, ..] => 7,
            // mov %rsp,%rbp
            [0x48, 0x89, 0xe5, ..] => 3,
            // nop, xchg %ax,%ax, nopl (%rax), nopl 0(%rax), nopl 0(%rax,%rax,1),
            // nopw 0(%rax,%rax,1)
            [0x90, ..] => 1,
            [0x66, 0x90, ..] => 2,
            [0x0f, 0x1f, 0x00, ..] => 3,
            [0x0f, 0x1f, 0x40, _, ..] => 4,
            [0x0f, 0x1f, 0x44, 0x00, _, ..] => 5,
            [0x66, 0x0f, 0x1f, 0x44, 0x00, _, ..] => 6,
            _ => return None,
        };
        at += len;
    }
    None
}

/// Whether `code` reaches a `ret` through register-only instructions that
/// neither branch nor touch memory (other than popping the stack): what a
/// compiler leaves after a forwarded call (`test`, `cmovcc`, `mov`/`xor`
/// between registers, `movslq`, `mov $imm`, `add/sub $imm,%rsp`, `pop`,
/// `leave`).
fn quiet_return(code: &[u8]) -> bool {
    let reg_reg = |modrm: u8| modrm >= 0xc0;
    let mut at = 0usize;
    for _ in 0..16 {
        let Some(rest) = code.get(at..) else {
            return false;
        };
        // An optional REX prefix before the register-to-register forms.
        let (rex, op) = match rest {
            [0x40..=0x4f, op @ ..] => (1, op),
            op => (0, op),
        };
        let len = match op {
            [0xc3, ..] | [0xf3, 0xc3, ..] => return true,
            // xor, mov, test between registers
            [0x31 | 0x33 | 0x89 | 0x8b | 0x85, m, ..] if reg_reg(*m) => rex + 2,
            // cmovcc between registers
            [0x0f, 0x40..=0x4f, m, ..] if reg_reg(*m) => rex + 3,
            // movslq between registers
            [0x63, m, ..] if rex == 1 && reg_reg(*m) => 3,
            // add/sub $imm8 and $imm32 to %rsp
            [0x83, 0xc4 | 0xec, _, ..] if rest[0] == 0x48 => 4,
            [0x81, 0xc4 | 0xec, _, _, _, _, ..] if rest[0] == 0x48 => 7,
            // mov $imm32,reg
            [0xb8..=0xbf, _, _, _, _, ..] => rex + 5,
            // pop reg, leave
            [0x58..=0x5f, ..] => rex + 1,
            [0xc9, ..] if rex == 0 => 1,
            _ => return false,
        };
        at += len;
    }
    false
}

/// Whether `body` (at `vaddr`) holds a `call rel32` or `jmp rel32` to
/// `target`. Bytes are matched at every position; a false match needs four
/// displacement bytes that happen to encode exactly `target`.
pub(crate) fn branches_to(body: &[u8], vaddr: u64, target: u64) -> bool {
    body.windows(5).enumerate().any(|(i, w)| {
        matches!(w[0], 0xe8 | 0xe9)
            && branch_target(
                vaddr,
                i + 5,
                i64::from(i32::from_le_bytes([w[1], w[2], w[3], w[4]])),
            ) == Some(target)
    })
}

fn branch_target(vaddr: u64, next: usize, rel: i64) -> Option<u64> {
    let next = vaddr.checked_add(u64::try_from(next).ok()?)?;
    next.checked_add_signed(rel)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A fake text segment: code by address.
    struct Text(HashMap<u64, Vec<u8>>);

    impl Text {
        fn code(&self, vaddr: u64, len: usize) -> Option<Vec<u8>> {
            let c = self.0.get(&vaddr)?;
            Some(c[..len.min(c.len())].to_vec())
        }
    }

    fn call(from: u64, at: usize, to: u64) -> [u8; 5] {
        let rel = i32::try_from(to as i64 - (from as i64 + at as i64 + 5)).unwrap();
        let b = rel.to_le_bytes();
        [0xe8, b[0], b[1], b[2], b[3]]
    }

    fn func(vaddr: u64, size: u64) -> Func {
        Func { vaddr, size }
    }

    fn at(points: &[Point], program: &str) -> Vec<u64> {
        points
            .iter()
            .filter(|p| p.program == program)
            .map(|p| p.vaddr)
            .collect()
    }

    /// Scenario: the shapes of first instructions seen in libssl and node:
    /// push (with and without REX.B), call, jmp, jcc, and the ones the
    /// kernel single-steps (sub, mov, test, endbr64, REX.W push, an empty slice).
    /// Guarantees: only the emulated kinds are recognised.
    #[test]
    fn emulated_first_instructions() {
        for yes in [
            &[0x55u8, 0x48, 0x89, 0xe5][..],
            &[0x41, 0x56],
            &[0xe8, 1, 2, 3, 4],
            &[0xe9, 1, 2, 3, 4],
            &[0xeb, 0x10],
            &[0x74, 0x16],
            &[0x0f, 0x84, 1, 2, 3, 4],
        ] {
            assert!(first_insn_emulated(yes), "{yes:x?}");
        }
        for no in [
            &[0x48u8, 0x83, 0xec, 0x08][..],
            &[0x48, 0x89, 0xe5],
            &[0x48, 0x85, 0xff],
            &[0xf3, 0x0f, 0x1e, 0xfa],
            &[0x48, 0x55],
            &[0xe8, 1, 2],
            &[],
        ] {
            assert!(!first_insn_emulated(no), "{no:x?}");
        }
    }

    /// Scenario: Debian's libssl.so.3 `SSL_write_ex` (sub $8,%rsp; call;
    /// register-only epilogue; ret), the same without its ret, with a second
    /// call, or reading memory after the call; a tail call after endbr64 and
    /// push, a short jmp, and prologues that touch an argument register or
    /// never branch.
    /// Guarantees: the forward target for the complete wrapper and the two
    /// jumps, none otherwise.
    #[test]
    fn forwarding_prologues() {
        // 35a10: sub $0x8,%rsp; call 355a0; xor %edx,%edx; test %eax,%eax;
        // cmovs %edx,%eax; add $0x8,%rsp; xor %edx,%edx; xor %ecx,%ecx;
        // xor %esi,%esi; xor %edi,%edi; ret
        let ssl_write_ex = [
            0x48, 0x83, 0xec, 0x08, 0xe8, 0x87, 0xfb, 0xff, 0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f,
            0x48, 0xc2, 0x48, 0x83, 0xc4, 0x08, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff,
            0xc3,
        ];
        assert_eq!(forward_target(&ssl_write_ex, 0x35a10), Some(0x355a0));
        // The same cut before its ret, and with a second call after the first.
        assert_eq!(forward_target(&ssl_write_ex[..28], 0x35a10), None);
        let mut calls_again = ssl_write_ex[..16].to_vec();
        calls_again.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0xc3]);
        assert_eq!(forward_target(&calls_again, 0x35a10), None);
        // A result read from memory after the call (mov (%rsp),%eax) is not a
        // plain forward either.
        let reads_memory = [
            0x48, 0x83, 0xec, 0x08, 0xe8, 0, 0, 0, 0, 0x8b, 0x04, 0x24, 0xc3,
        ];
        assert_eq!(forward_target(&reads_memory, 0x1000), None);
        let mut tail = vec![0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5];
        tail.extend_from_slice(&[0xe9, 0x00, 0x10, 0x00, 0x00]);
        assert_eq!(forward_target(&tail, 0x1000), Some(0x1000 + 13 + 0x1000));
        assert_eq!(forward_target(&[0xeb, 0xfe], 0x2000), Some(0x2000));
        // mov %rcx,%r8; xor %ecx,%ecx; jmp (OpenSSL 3.2 SSL_write_ex -> SSL_write_ex2)
        let rewrites_args = [0x49, 0x89, 0xc8, 0x31, 0xc9, 0xe9, 0, 0, 0, 0];
        assert_eq!(forward_target(&rewrites_args, 0x3000), None);
        assert_eq!(forward_target(&[0x90; 32], 0x4000), None);
        assert_eq!(forward_target(&[0x48, 0x83, 0xec], 0x5000), None);
    }

    /// Scenario: a body with a call to the target among other calls; one
    /// without; a jmp to it at the very end of the bytes.
    /// Guarantees: found exactly when a rel32 call or jmp reaches the target.
    #[test]
    fn branch_search() {
        let mut body = vec![0x48, 0x83, 0xec, 0x18];
        body.extend_from_slice(&call(0x35980, body.len(), 0x1f3c0));
        let before = body.len();
        body.extend_from_slice(&call(0x35980, before, 0x355a0));
        assert!(branches_to(&body, 0x35980, 0x355a0));
        assert!(!branches_to(&body[..before], 0x35980, 0x355a0));
        let mut jmp = vec![0x90; 3];
        let c = call(0x100, 3, 0x900);
        jmp.extend_from_slice(&[0xe9, c[1], c[2], c[3], c[4]]);
        assert!(branches_to(&jmp, 0x100, 0x900));
    }

    /// Scenario: a libssl shaped like Debian's OpenSSL 3.0: the `_ex`
    /// functions forward to internal functions that start with `push`, and
    /// SSL_write/SSL_read call those internal functions.
    /// Guarantees: the `_ex` probes sit on the internal functions, the plain
    /// functions are not probed, SSL_free stays on its symbol.
    #[test]
    fn openssl3_probes_the_internal_functions() {
        let (w, r, wx, rx, wi, ri, free) = (
            0x35980, 0x35430, 0x35a10, 0x354c0, 0x355a0, 0x35290, 0x3b350,
        );
        let mut text = HashMap::new();
        let fwd = |from: u64, to: u64| {
            let mut c = vec![0x48, 0x83, 0xec, 0x08];
            c.extend_from_slice(&call(from, 4, to));
            c.extend_from_slice(&[0x31, 0xd2, 0x48, 0x83, 0xc4, 0x08, 0xc3]);
            c
        };
        text.insert(wx, fwd(wx, wi));
        text.insert(rx, fwd(rx, ri));
        text.insert(wi, vec![0x41, 0x56, 0x41, 0x55]);
        text.insert(ri, vec![0x41, 0x55, 0x41, 0x54]);
        let plain = |from: u64, to: u64| {
            let mut c = vec![0x48, 0x83, 0xec, 0x18, 0x85, 0xd2, 0x78, 0x2f];
            c.extend_from_slice(&call(from, 8, to));
            c.push(0xc3);
            c
        };
        text.insert(w, plain(w, wi));
        text.insert(r, plain(r, ri));
        text.insert(free, vec![0x48, 0x85, 0xff]);
        let text = Text(text);
        let funcs = SslFuncs {
            write: func(w, 0x7e),
            read: func(r, 0x7e),
            write_ex: Some(func(wx, 0x1d)),
            read_ex: Some(func(rx, 0x1d)),
            free: Some(func(free, 0x100)),
        };
        let points = plan(&funcs, true, |a, n| text.code(a, n));
        assert_eq!(at(&points, programs::SSL_WRITE_EX_ENTER), vec![wi]);
        assert_eq!(at(&points, programs::SSL_READ_EX_ENTER), vec![ri]);
        assert_eq!(at(&points, programs::SSL_EX_RET), vec![wi, ri]);
        assert!(at(&points, programs::SSL_WRITE_ENTER).is_empty());
        assert!(at(&points, programs::SSL_READ_ENTER).is_empty());
        assert!(at(&points, programs::SSL_RET).is_empty());
        assert_eq!(at(&points, programs::SSL_FREE_ENTER), vec![free]);

        // Not x86-64: everything on the exported symbols.
        let points = plan(&funcs, false, |a, n| text.code(a, n));
        assert_eq!(at(&points, programs::SSL_EX_RET), vec![wx, rx]);
        assert_eq!(at(&points, programs::SSL_RET), vec![w, r]);
    }

    /// Scenario: node's static OpenSSL (every function starts with push
    /// %rbp), and a library whose `_ex` functions neither start with an
    /// emulated instruction nor forward, and one without `_ex` functions.
    /// Guarantees: node and the opaque library are probed on the exported
    /// symbols, entry and return, all four functions.
    #[test]
    fn other_shapes_stay_on_the_symbols() {
        let text = Text(HashMap::from([
            (0x100, vec![0x55, 0x48, 0x89, 0xe5]),
            (0x200, vec![0x55, 0x48, 0x89, 0xe5]),
            (0x300, vec![0x55, 0x48, 0x89, 0xe5]),
            (0x400, vec![0x55, 0x48, 0x89, 0xe5]),
            (0x500, vec![0x48, 0x8b, 0x07]),
            (0x600, vec![0x48, 0x8b, 0x07]),
            (0x700, vec![0x48, 0x8b, 0x07]),
            (0x800, vec![0x48, 0x8b, 0x07]),
        ]));
        for (w, r, wx, rx) in [(0x100, 0x200, 0x300, 0x400), (0x500, 0x600, 0x700, 0x800)] {
            let funcs = SslFuncs {
                write: func(w, 16),
                read: func(r, 16),
                write_ex: Some(func(wx, 16)),
                read_ex: Some(func(rx, 16)),
                free: None,
            };
            let points = plan(&funcs, true, |a, n| text.code(a, n));
            assert_eq!(at(&points, programs::SSL_WRITE_ENTER), vec![w]);
            assert_eq!(at(&points, programs::SSL_READ_ENTER), vec![r]);
            assert_eq!(at(&points, programs::SSL_RET), vec![w, r]);
            assert_eq!(at(&points, programs::SSL_EX_RET), vec![wx, rx]);
            assert_eq!(points.len(), 8);
        }
        let old = SslFuncs {
            write: func(0x500, 16),
            read: func(0x600, 16),
            write_ex: None,
            read_ex: None,
            free: None,
        };
        let points = plan(&old, true, |a, n| text.code(a, n));
        assert_eq!(at(&points, programs::SSL_RET), vec![0x500, 0x600]);
        assert_eq!(points.len(), 4);
    }
}
