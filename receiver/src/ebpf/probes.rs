//! Finding the OpenSSL copies to probe and attaching the `SSL_*` uprobes to
//! each once.
//!
//! Candidates are every file a process maps executable (`libssl.so.*`
//! wherever it lives, including virtualenvs and containers via
//! `/proc/PID/root`, and executables such as node that link OpenSSL
//! statically and export its symbols), the usual library directories, and
//! the configured `libraries`. A file qualifies when its dynamic symbol table
//! defines `SSL_write` and `SSL_read`; where in it each probe goes is
//! [`probe_points`](super::probe_points)'s choice. Uprobes are per inode, so one
//! attachment covers every process mapping the file, now and later; files are
//! deduplicated by (device, inode). New files are found when the kernel
//! reports an exec or an executable mapping of an unexamined file.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aya::programs::uprobe::{UProbeAttachLocation, UProbeLinkId, UProbeScope};
use aya::programs::UProbe;
use aya::Ebpf;

use super::elf::{ssl_probes, Attach};
use super::error::CaptureError;
use super::loader::KernelMaps;
use super::procfs;

/// Directories where a system OpenSSL usually lives; probed at start so the
/// first process to load it is covered from its first call.
const LIBRARY_DIRS: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/local/ssl/lib",
];
/// Executables that usually carry a static, exported OpenSSL.
const KNOWN_EXECUTABLES: &[&str] = &["/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"];

/// The outcome of examining one file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Examined {
    /// Seen before (attached or not).
    Known,
    /// Not an OpenSSL (no exported `SSL_write`/`SSL_read`), or unreadable.
    NotOpenSsl,
    /// Uprobes attached.
    Attached,
}

/// Files examined so far, by kernel (device, inode).
#[derive(Debug, Default)]
pub(crate) struct LibraryProbes {
    examined: HashSet<(u64, u64)>,
    attached: Vec<PathBuf>,
}

impl LibraryProbes {
    /// The files probed so far.
    pub(crate) fn attached(&self) -> &[PathBuf] {
        &self.attached
    }

    /// Whether the file with this kernel (device, inode) was examined.
    pub(crate) fn is_examined(&self, dev: u64, ino: u64) -> bool {
        self.examined.contains(&(dev, ino))
    }

    /// Examines `path` and attaches the uprobes if it is an unseen OpenSSL.
    pub(crate) fn examine(
        &mut self,
        ebpf: &mut Ebpf,
        maps: &mut KernelMaps,
        path: &Path,
    ) -> Result<Examined, CaptureError> {
        let meta = fs::metadata(path).map_err(|source| CaptureError::Io {
            context: format!("stat {}", path.display()),
            source,
        })?;
        let key = (procfs::kernel_dev_from_stat(meta.dev()), meta.ino());
        if self.examined.contains(&key) {
            return Ok(Examined::Known);
        }
        // Only a concluded examination is remembered: a file that vanished
        // or failed to attach is tried again when it is mapped again.
        let probes = ssl_probes(path).map_err(|source| CaptureError::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        let outcome = match probes {
            None => Examined::NotOpenSsl,
            Some(probes) => {
                attach(ebpf, path, &probes)?;
                tracing::info!(path = %path.display(), "probing OpenSSL");
                self.attached.push(path.to_path_buf());
                Examined::Attached
            }
        };
        self.examined.insert(key);
        maps.mark_seen(key.0, key.1);
        Ok(outcome)
    }

    /// Examines a configured library: it must exist and be an OpenSSL.
    pub(crate) fn examine_required(
        &mut self,
        ebpf: &mut Ebpf,
        maps: &mut KernelMaps,
        path: &Path,
    ) -> Result<(), CaptureError> {
        let err = |reason: String| CaptureError::Library {
            path: path.to_path_buf(),
            reason,
        };
        match self.examine(ebpf, maps, path) {
            Ok(Examined::NotOpenSsl) => Err(err(
                "it does not export SSL_write and SSL_read (not OpenSSL, or stripped)".into(),
            )),
            Ok(_) => Ok(()),
            Err(CaptureError::Io { source, .. }) => Err(err(source.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Examines every executable mapping of `pid` not seen before.
    pub(crate) fn scan_process(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, pid: u32) {
        let Ok(mappings) = procfs::exec_mappings(pid) else {
            return;
        };
        for m in mappings {
            if self.examined.contains(&(m.dev, m.ino)) {
                continue;
            }
            let path = procfs::in_root_of(pid, &m.path);
            if self.examine_quietly(ebpf, maps, &path) {
                // The maps key may differ from stat's (btrfs subvolumes,
                // overlayfs): remember both so neither side reports it again.
                self.examined.insert((m.dev, m.ino));
                maps.mark_seen(m.dev, m.ino);
            }
        }
    }

    /// Examines the executable of a process that just exec'd (the kernel
    /// maps it without an mmap call, so no EXEC_MAP record covers it).
    pub(crate) fn scan_exe(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, pid: u32) {
        if let Some(exe) = procfs::exe(pid) {
            let path = procfs::in_root_of(pid, &exe.to_string_lossy());
            self.examine_quietly(ebpf, maps, &path);
        }
    }

    /// Examines the usual library directories and executables.
    pub(crate) fn scan_standard_locations(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps) {
        for dir in LIBRARY_DIRS {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("libssl.so") {
                    self.examine_quietly(ebpf, maps, &entry.path());
                }
            }
        }
        for exe in KNOWN_EXECUTABLES {
            let path = Path::new(exe);
            if path.exists() {
                self.examine_quietly(ebpf, maps, path);
            }
        }
    }

    /// Examines every running process.
    pub(crate) fn scan_all_processes(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps) {
        let own = std::process::id();
        for pid in procfs::pids() {
            if pid != own {
                self.scan_process(ebpf, maps, pid);
            }
        }
    }

    /// Examines a discovered file; failures are logged, not fatal (the
    /// process may be gone, the file unreadable). True when concluded.
    fn examine_quietly(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, path: &Path) -> bool {
        match self.examine(ebpf, maps, path) {
            Ok(_) => true,
            Err(CaptureError::Io { .. }) => false,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot probe OpenSSL");
                false
            }
        }
    }
}

/// Attaches `probes` to `path`; on failure detaches the ones already made,
/// so a file is either fully probed or not at all.
fn attach(ebpf: &mut Ebpf, path: &Path, probes: &[Attach]) -> Result<(), CaptureError> {
    let mut done: Vec<(&str, UProbeLinkId)> = Vec::new();
    for &Attach { program, offset } in probes {
        let result = uprobe(ebpf, program).and_then(|p| {
            p.attach(
                UProbeAttachLocation::AbsoluteOffset(offset),
                path,
                UProbeScope::AllProcesses,
            )
            .map_err(|e| CaptureError::Attach {
                program: program.into(),
                target: format!("{}+{offset:#x}", path.display()),
                detail: e.to_string(),
            })
        });
        match result {
            Ok(link) => done.push((program, link)),
            Err(e) => {
                for (program, link) in done {
                    if let Ok(p) = uprobe(ebpf, program) {
                        let _ = p.detach(link);
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

fn uprobe<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut UProbe, CaptureError> {
    ebpf.program_mut(name)
        .and_then(|p| <&mut UProbe>::try_from(p).ok())
        .ok_or_else(|| CaptureError::Load {
            what: format!("program {name}"),
            detail: "missing from the object or not a uprobe".into(),
        })
}
