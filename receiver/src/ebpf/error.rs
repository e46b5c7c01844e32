//! Start-up errors of the kernel capture, each saying what to do.

use std::io;
use std::path::PathBuf;

/// Why the kernel capture could not start (or could not probe a library).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The configuration is invalid.
    #[error("invalid ebpf receiver configuration: {0}")]
    Config(String),
    /// The process lacks capabilities the capture needs.
    #[error(
        "ebpf receiver lacks {missing}: run oispd as root or grant it the capabilities \
         listed in docs/security.md"
    )]
    MissingCapabilities {
        /// Each missing capability with what it is needed for.
        missing: String,
    },
    /// The kernel has no BTF, so CO-RE relocations cannot be resolved.
    #[error(
        "ebpf receiver needs kernel BTF and {path} is missing: use a kernel built with CONFIG_DEBUG_INFO_BTF=y"
    )]
    NoBtf {
        /// Where BTF was looked for.
        path: PathBuf,
    },
    /// tracefs is not mounted and could not be mounted.
    #[error(
        "ebpf receiver needs tracefs, which is not mounted ({detail}): \
         run `mount -t tracefs nodev /sys/kernel/tracing` as root"
    )]
    NoTracefs {
        /// Why mounting failed or was not tried.
        detail: String,
    },
    /// The kernel refused BPF (EPERM): lockdown, a seccomp profile, a
    /// container without the capabilities, or `kernel.unprivileged_bpf_disabled`.
    #[error(
        "the kernel refused to load eBPF programs ({detail}): run oispd as root on the host \
         (in a container: --privileged or CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN; check kernel lockdown)"
    )]
    BpfNotPermitted {
        /// The error the kernel returned.
        detail: String,
    },
    /// Loading the object or a program failed (the verifier log is included).
    #[error("loading eBPF {what} failed: {detail}")]
    Load {
        /// Which object, map or program.
        what: String,
        /// The loader's error, with the verifier log when there is one.
        detail: String,
    },
    /// Attaching a program failed.
    #[error("attaching eBPF program {program} to {target} failed: {detail}")]
    Attach {
        /// Program name.
        program: String,
        /// Tracepoint or file:symbol.
        target: String,
        /// The loader's error.
        detail: String,
    },
    /// A library listed in `libraries` cannot be probed.
    #[error("cannot probe library {path}: {reason}")]
    Library {
        /// The configured path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An I/O error outside the above.
    #[error("ebpf receiver: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
}
