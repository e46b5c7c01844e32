//! Configuration of the kernel capture: body cap, ring buffer size, extra
//! libraries, which processes to capture, which activity to report.
//!
//! ```yaml
//! max_body_bytes: 1048576      # plaintext kept per SSL_* call
//! ring_buffer_size: 8388608    # bytes, a power of two
//! libraries: [/opt/app/lib/libssl.so.3]
//! include: {names: ["python*", node], pids: [], cgroups: []}
//! exclude: {names: [sshd], cgroups: ["/system.slice/*"]}
//! activity: agents             # agents | all | off
//! file_paths: ["/home/**", "/tmp/**"]
//! ```

use std::path::PathBuf;

use globset::Glob;
use oispd_component::ComponentConfig;
use oispd_receiver_ebpf::records::MAX_BODY_LIMIT;
use serde::{Deserialize, Serialize};

/// Default plaintext kept per `SSL_*` call: 1 MiB (AI requests with long
/// histories easily pass 256 KiB in one `SSL_write`).
pub const DEFAULT_MAX_BODY_BYTES: u32 = 1 << 20;
/// Default ring buffer size: 8 MiB, about 400 ms of capture at 2,000 AI
/// calls/s with 8 KB bodies; it is mapped twice, so it counts double in RSS.
pub const DEFAULT_RING_BUFFER_SIZE: u32 = 8 << 20;
/// Smallest ring buffer accepted: 64 KiB.
pub const MIN_RING_BUFFER_SIZE: u32 = 64 << 10;
/// Room a TLS record takes in the ring beyond its plaintext (headers, slack).
const RECORD_OVERHEAD: u64 = 4096;

/// Which processes get network and file activity records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityMode {
    /// Network records for every process; file records only for processes
    /// marked with [`super::EbpfCapture::trace_pid`] (AI agents) and their
    /// descendants.
    #[default]
    Agents,
    /// Network and file records for every process.
    All,
    /// No network or file records (process lifecycle is still reported).
    Off,
}

/// A set of processes, by name, pid or cgroup. Empty lists match nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessMatch {
    /// Globs on the process name (`comm`) or the basename of its executable.
    pub names: Vec<String>,
    /// Process ids.
    pub pids: Vec<u32>,
    /// Globs on the process's cgroup path (`/proc/PID/cgroup`, any hierarchy).
    pub cgroups: Vec<String>,
}

impl ProcessMatch {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.pids.is_empty() && self.cgroups.is_empty()
    }
}

/// The `ebpf` capture's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EbpfCaptureConfig {
    /// Plaintext bytes kept per `SSL_read`/`SSL_write` call (default 1 MiB,
    /// at most 4 MiB). Longer calls are captured up to this size and carry
    /// their full length, so decoding marks them partial.
    pub max_body_bytes: u32,
    /// Size of the kernel ring buffer in bytes (default 8 MiB); a power of
    /// two, at least 64 KiB and at least twice `max_body_bytes` plus 8 KiB.
    pub ring_buffer_size: u32,
    /// Extra OpenSSL libraries or executables to probe, beyond those found
    /// in running processes, the usual library directories and new mappings.
    pub libraries: Vec<PathBuf>,
    /// Only these processes are captured (all when empty).
    pub include: ProcessMatch,
    /// These processes are never captured.
    pub exclude: ProcessMatch,
    /// Which processes get network and file activity records (default `agents`).
    pub activity: ActivityMode,
    /// Globs on file paths reported by file activity (all when empty).
    pub file_paths: Vec<String>,
}

impl Default for EbpfCaptureConfig {
    fn default() -> Self {
        EbpfCaptureConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            ring_buffer_size: DEFAULT_RING_BUFFER_SIZE,
            libraries: Vec::new(),
            include: ProcessMatch::default(),
            exclude: ProcessMatch::default(),
            activity: ActivityMode::default(),
            file_paths: Vec::new(),
        }
    }
}

impl ComponentConfig for EbpfCaptureConfig {
    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_body_bytes == 0 || self.max_body_bytes > MAX_BODY_LIMIT {
            errors.push(format!(
                "'max_body_bytes': must be between 1 and {MAX_BODY_LIMIT}, got {}",
                self.max_body_bytes
            ));
        }
        let ring = self.ring_buffer_size;
        if !ring.is_power_of_two() || ring < MIN_RING_BUFFER_SIZE {
            errors.push(format!(
                "'ring_buffer_size': must be a power of two of at least {MIN_RING_BUFFER_SIZE} bytes, got {ring}"
            ));
        } else if u64::from(ring) < 2 * (u64::from(self.max_body_bytes) + RECORD_OVERHEAD) {
            errors.push(format!(
                "'ring_buffer_size': {ring} bytes cannot hold two records of max_body_bytes ({}); use at least {}",
                self.max_body_bytes,
                (2 * (u64::from(self.max_body_bytes) + RECORD_OVERHEAD)).next_power_of_two()
            ));
        }
        for (field, globs) in [
            ("include.names", &self.include.names),
            ("include.cgroups", &self.include.cgroups),
            ("exclude.names", &self.exclude.names),
            ("exclude.cgroups", &self.exclude.cgroups),
            ("file_paths", &self.file_paths),
        ] {
            for glob in globs {
                if let Err(e) = Glob::new(glob) {
                    errors.push(format!("'{field}': invalid glob {glob:?}: {e}"));
                }
            }
        }
        for (i, lib) in self.libraries.iter().enumerate() {
            if !lib.is_absolute() {
                errors.push(format!(
                    "'libraries[{i}]': {} is not an absolute path",
                    lib.display()
                ));
            }
        }
        errors
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;

    fn parse(yaml: &str) -> Result<EbpfCaptureConfig, String> {
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config::<EbpfCaptureConfig>(&value).map_err(|errs| {
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Scenario: `ebpf: {}` in the config.
    /// Guarantees: the documented defaults.
    #[test]
    fn empty_body_gives_defaults() {
        let c = parse("null").unwrap();
        assert_eq!(c, EbpfCaptureConfig::default());
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.ring_buffer_size, 8 << 20);
        assert_eq!(c.activity, ActivityMode::Agents);
    }

    /// Scenario: every field set.
    /// Guarantees: they parse into the typed struct.
    #[test]
    fn full_config_parses() {
        let c = parse(
            "max_body_bytes: 4096\nring_buffer_size: 65536\nlibraries: [/opt/lib/libssl.so.3]\n\
             include: {names: [python*], pids: [7]}\nexclude: {cgroups: ['/system.slice/*']}\n\
             activity: all\nfile_paths: ['/tmp/**']\n",
        )
        .unwrap();
        assert_eq!(c.max_body_bytes, 4096);
        assert_eq!(c.include.names, vec!["python*"]);
        assert_eq!(c.include.pids, vec![7]);
        assert_eq!(c.exclude.cgroups, vec!["/system.slice/*"]);
        assert_eq!(c.activity, ActivityMode::All);
    }

    /// Scenario: a typo in a key.
    /// Guarantees: rejected, naming the key.
    #[test]
    fn unknown_key_is_rejected() {
        let err = parse("max_body_byte: 10").unwrap_err();
        assert!(err.contains("max_body_byte"), "{err}");
        let err = parse("include: {name: [x]}").unwrap_err();
        assert!(err.contains("name"), "{err}");
    }

    /// Scenario: impossible sizes, a bad glob and a relative library path at once.
    /// Guarantees: every problem is reported, each naming its field.
    #[test]
    fn all_invalid_values_are_reported() {
        let err = parse(
            "max_body_bytes: 0\nring_buffer_size: 100000\nfile_paths: ['a[']\nlibraries: [lib/libssl.so]\n",
        )
        .unwrap_err();
        assert!(err.contains("'max_body_bytes'"), "{err}");
        assert!(
            err.contains("'ring_buffer_size': must be a power of two"),
            "{err}"
        );
        assert!(err.contains("'file_paths': invalid glob"), "{err}");
        assert!(err.contains("'libraries[0]'"), "{err}");
    }

    /// Scenario: a ring too small for the body cap.
    /// Guarantees: rejected with the size to use.
    #[test]
    fn ring_must_hold_two_large_records() {
        let err = parse("max_body_bytes: 1048576\nring_buffer_size: 1048576").unwrap_err();
        assert!(err.contains("use at least 4194304"), "{err}");
    }
}
