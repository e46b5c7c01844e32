//! The host context stamped on every event of the `ebpf` receiver: host
//! name, OS family and release, kernel version and CPU architecture, read
//! once at start from `/proc/sys/kernel` and `/etc/os-release`.

use std::path::Path;

use oispd_semconv::common::Host;

/// Host facts of this machine, read under `root` (`/` in production).
pub(crate) fn host_facts(root: &Path) -> Host {
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    Host {
        hostname: read("proc/sys/kernel/hostname"),
        os: Some("linux".into()),
        os_version: read("etc/os-release").and_then(|t| os_release_name(&t)),
        kernel_version: read("proc/sys/kernel/osrelease"),
        arch: Some(oisp_arch(std::env::consts::ARCH).into()),
        ..Host::default()
    }
}

/// `PRETTY_NAME` (else `NAME VERSION_ID`) of an os-release file.
fn os_release_name(text: &str) -> Option<String> {
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            let v = v.trim().trim_matches('"').trim_matches('\'');
            (!v.is_empty()).then(|| v.to_string())
        })
    };
    field("PRETTY_NAME").or_else(|| match (field("NAME"), field("VERSION_ID")) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => n,
    })
}

/// The OISP `host.arch` value of a Rust target architecture.
fn oisp_arch(arch: &str) -> &'static str {
    match arch {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        "arm" => "arm",
        "x86" => "i686",
        _ => "other",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: a fake root with hostname, kernel release and os-release.
    /// Guarantees: each lands in its OISP field; os is linux.
    #[test]
    fn reads_host_facts_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("proc/sys/kernel/hostname"), "box-1\n").unwrap();
        std::fs::write(
            dir.path().join("proc/sys/kernel/osrelease"),
            "6.18.0-test\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/os-release"),
            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
        )
        .unwrap();
        let h = host_facts(dir.path());
        assert_eq!(h.hostname.as_deref(), Some("box-1"));
        assert_eq!(h.kernel_version.as_deref(), Some("6.18.0-test"));
        assert_eq!(
            h.os_version.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(h.os.as_deref(), Some("linux"));
        assert!(h.arch.is_some());
    }

    /// Scenario: os-release without PRETTY_NAME; a missing root.
    /// Guarantees: NAME VERSION_ID is used; missing files leave fields unset.
    #[test]
    fn falls_back_and_tolerates_missing_files() {
        assert_eq!(
            os_release_name("NAME=Alpine\nVERSION_ID=3.20\n").as_deref(),
            Some("Alpine 3.20")
        );
        let h = host_facts(Path::new("/nonexistent-root"));
        assert_eq!(h.hostname, None);
        assert_eq!(h.os.as_deref(), Some("linux"));
        assert_eq!(oisp_arch("x86"), "i686");
        assert_eq!(oisp_arch("riscv64"), "other");
    }
}
