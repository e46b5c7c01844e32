//! Start-up checks before anything is loaded: capabilities, kernel BTF and
//! tracefs (mounted here when missing and we are allowed to), so that a
//! machine that cannot run the capture gets one clear error that says what
//! to do instead of a loader error.

use std::ffi::CStr;
use std::fs;
use std::path::Path;

use super::error::CaptureError;

/// Where the running kernel's BTF lives.
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
const TRACEFS: &CStr = c"/sys/kernel/tracing";
const TRACEFS_EVENTS: [&str; 2] = [
    "/sys/kernel/tracing/events",
    "/sys/kernel/debug/tracing/events",
];

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Runs every check; mounts tracefs if it is missing.
pub(crate) fn check() -> Result<(), CaptureError> {
    let caps = effective_capabilities()?;
    if !privileges_suffice(caps) {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        return Err(CaptureError::NotPrivileged {
            detail: format!("euid {euid}, effective capabilities {caps:#x}"),
        });
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(CaptureError::NoBtf {
            path: VMLINUX_BTF.into(),
        });
    }
    ensure_tracefs()
}

/// The `CapEff` mask of this process.
fn effective_capabilities() -> Result<u64, CaptureError> {
    let status = fs::read_to_string("/proc/self/status").map_err(|source| CaptureError::Io {
        context: "reading /proc/self/status".into(),
        source,
    })?;
    parse_cap_eff(&status).ok_or_else(|| CaptureError::NotPrivileged {
        detail: "no CapEff line in /proc/self/status".into(),
    })
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// CAP_SYS_ADMIN alone, or CAP_BPF with CAP_PERFMON (kernel 5.8+).
fn privileges_suffice(caps: u64) -> bool {
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

fn tracefs_ready() -> bool {
    TRACEFS_EVENTS.iter().any(|p| Path::new(p).is_dir())
}

fn ensure_tracefs() -> Result<(), CaptureError> {
    if tracefs_ready() {
        return Ok(());
    }
    // SAFETY: all pointers are NUL-terminated C strings that outlive the
    // call; tracefs takes no mount data.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            TRACEFS.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(CaptureError::NoTracefs {
            detail: format!("mounting it failed: {}", std::io::Error::last_os_error()),
        });
    }
    if !tracefs_ready() {
        return Err(CaptureError::NoTracefs {
            detail: "mounted, but it has no events directory".into(),
        });
    }
    tracing::info!(path = "/sys/kernel/tracing", "mounted tracefs");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: CapEff lines of root, of a process with CAP_BPF+CAP_PERFMON,
    /// with CAP_BPF only, and of an unprivileged user.
    /// Guarantees: only the first two pass.
    #[test]
    fn capability_sets() {
        let root = parse_cap_eff("Name:\tx\nCapEff:\t000001ffffffffff\n").unwrap();
        assert!(privileges_suffice(root));
        let bpf_perfmon = (1u64 << CAP_BPF) | (1u64 << CAP_PERFMON);
        assert!(privileges_suffice(bpf_perfmon));
        assert!(!privileges_suffice(1u64 << CAP_BPF));
        let user = parse_cap_eff("CapEff:\t0000000000000000").unwrap();
        assert!(!privileges_suffice(user));
        assert_eq!(parse_cap_eff("CapInh:\t0\n"), None);
    }

    /// Scenario: the start-up error for an unprivileged user.
    /// Guarantees: it tells the user to run as root.
    #[test]
    fn not_privileged_message_says_what_to_do() {
        let msg = CaptureError::NotPrivileged {
            detail: "euid 1000".into(),
        }
        .to_string();
        assert!(
            msg.starts_with("ebpf receiver needs root or CAP_BPF+CAP_PERFMON"),
            "{msg}"
        );
        assert!(msg.contains("run oispd as root"), "{msg}");
    }
}
