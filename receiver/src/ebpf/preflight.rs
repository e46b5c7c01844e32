//! Start-up checks before anything is loaded: capabilities, kernel BTF and
//! tracefs (mounted here when missing and we are allowed to), so that a
//! machine that cannot run the capture gets one clear error that says what
//! to do instead of a loader error.

use std::ffi::CStr;
use std::path::Path;

use caps::Capability;
use oispd_component::privileges::{self, RequiredCapability};

use super::error::CaptureError;

/// Where the running kernel's BTF lives.
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
const TRACEFS: &CStr = c"/sys/kernel/tracing";
const TRACEFS_EVENTS: [&str; 2] = [
    "/sys/kernel/tracing/events",
    "/sys/kernel/debug/tracing/events",
];

/// What the capture needs, found by experiment on Linux 6.18 (an
/// unprivileged user given one set after another with `setpriv`; see
/// docs/security.md). The same set is needed after loading: new TLS
/// libraries are probed as processes map them.
pub const CAPABILITIES: [RequiredCapability; 3] = [
    RequiredCapability {
        capability: Capability::CAP_SYS_ADMIN,
        needed_for: "attaching uprobes to TLS libraries, which the kernel's uprobe PMU allows only \
                     with CAP_SYS_ADMIN; it also covers loading eBPF programs and tracepoints",
    },
    RequiredCapability {
        capability: Capability::CAP_SYS_PTRACE,
        needed_for: "opening other users' /proc/PID/exe and /proc/PID/root to find and read their TLS libraries",
    },
    RequiredCapability {
        capability: Capability::CAP_DAC_READ_SEARCH,
        needed_for: "reading tracepoint ids in tracefs, which is mode 0700 root",
    },
];

/// Runs every check; mounts tracefs if it is missing.
pub(crate) fn check() -> Result<(), CaptureError> {
    let effective = privileges::effective().map_err(|e| CaptureError::Io {
        context: e.step.into(),
        source: std::io::Error::other(e.detail),
    })?;
    let missing = privileges::missing(&CAPABILITIES, &effective);
    if !missing.is_empty() {
        return Err(CaptureError::MissingCapabilities {
            missing: privileges::describe(&missing),
        });
    }
    if !Path::new(VMLINUX_BTF).exists() {
        return Err(CaptureError::NoBtf {
            path: VMLINUX_BTF.into(),
        });
    }
    ensure_tracefs()
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
    use caps::CapsHashSet;

    /// Scenario: the start-up error of a process holding CAP_BPF and
    /// CAP_PERFMON only (enough before Linux restricted the uprobe PMU).
    /// Guarantees: it names the two missing capabilities with their reasons
    /// and says where the set is documented, on one line.
    #[test]
    fn missing_capabilities_are_named_on_one_line() {
        let held: CapsHashSet = [Capability::CAP_BPF, Capability::CAP_PERFMON]
            .into_iter()
            .collect();
        let missing = privileges::missing(&CAPABILITIES, &held);
        let msg = CaptureError::MissingCapabilities {
            missing: privileges::describe(&missing),
        }
        .to_string();
        assert!(
            msg.starts_with("ebpf receiver lacks CAP_SYS_ADMIN (attaching uprobes"),
            "{msg}"
        );
        assert!(msg.contains(", CAP_SYS_PTRACE (opening"), "{msg}");
        assert!(msg.contains(", CAP_DAC_READ_SEARCH (reading"), "{msg}");
        assert!(msg.contains("docs/security.md"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    /// Scenario: root's full set.
    /// Guarantees: nothing is missing.
    #[test]
    fn root_lacks_nothing() {
        assert!(privileges::missing(&CAPABILITIES, &caps::all()).is_empty());
    }
}
