//! Finding the TLS libraries to probe and attaching the `SSL_*` uprobes to
//! each once.
//!
//! Candidates are every file a process maps executable (`libssl.so.*`
//! wherever it lives, including virtualenvs and containers via
//! `/proc/PID/root`, executables such as node that link OpenSSL
//! statically and export its symbols, and stripped executables with
//! BoringSSL built in such as Bun), the usual library directories, and
//! the configured `libraries`. A file qualifies when its dynamic symbol table
//! defines `SSL_write` and `SSL_read` (where in it each probe goes is
//! [`probe_points`](super::probe_points)'s choice), or when
//! [`boringssl`](super::boringssl) locates them by structure, or when it
//! carries aws-lc's AEAD functions, rustls' record boundary with the
//! aws-lc-rs provider ([`aws_lc`](super::aws_lc)). Uprobes are per inode, so one
//! attachment covers every process mapping the file, now and later; files are
//! deduplicated by (device, inode). New files are found when the kernel
//! reports an exec or an executable mapping of an unexamined file. Each is
//! opened once (`/proc/PID/exe` for an exec, `/proc/PID/map_files/RANGE`
//! for a mapping) and that one descriptor is both read and attached
//! through, so a process that exits during the examination still gets its
//! file probed for the next run. Conclusions are cached by build-id
//! ([`exam_cache`](super::exam_cache)).

use std::collections::HashSet;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use aya::programs::uprobe::{UProbeAttachLocation, UProbeLinkId, UProbeScope};
use aya::programs::UProbe;
use aya::Ebpf;
use oispd_receiver_ebpf::programs;

use super::elf::Attach;
use super::error::CaptureError;
use super::exam_cache::{ExamCache, ProbeMethod, Probes, Source, Unhooked};
use super::loader::KernelMaps;
use super::procfs;
use super::tls_stack::TlsStack;

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

/// Unhooked binaries remembered by path (the counts cover them all).
const MAX_UNHOOKED_LISTED: usize = 256;

/// A binary that does TLS oispd cannot hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnhookedBinary {
    /// The path it was found at (as its process sees it).
    pub path: PathBuf,
    /// The TLS library guessed from its contents.
    pub library: TlsStack,
    /// Why it is not probed.
    pub reason: String,
}

/// A binary whose TLS functions are probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbedBinary {
    /// The path it was found at (as its process sees it).
    pub path: PathBuf,
    /// How its probe points were found.
    pub method: ProbeMethod,
}

/// Files examined so far, by kernel (device, inode).
#[derive(Debug, Default)]
pub(crate) struct LibraryProbes {
    examined: HashSet<(u64, u64)>,
    attached: Vec<ProbedBinary>,
    cache: ExamCache,
    /// The first [`MAX_UNHOOKED_LISTED`] unhooked binaries.
    unhooked: Vec<UnhookedBinary>,
    /// Distinct unhooked binaries (builds, or inodes without a build-id),
    /// per library, in [`TlsStack::ALL`] order.
    unhooked_counts: [u64; TlsStack::ALL.len()],
}

impl LibraryProbes {
    /// The files probed so far.
    pub(crate) fn attached(&self) -> &[ProbedBinary] {
        &self.attached
    }

    /// The first unhooked binaries found (bounded; see [`Self::unhooked_counts`]).
    pub(crate) fn unhooked(&self) -> &[UnhookedBinary] {
        &self.unhooked
    }

    /// Distinct unhooked binaries found so far, per library.
    pub(crate) fn unhooked_counts(&self) -> Vec<(TlsStack, u64)> {
        TlsStack::ALL
            .into_iter()
            .zip(self.unhooked_counts)
            .collect()
    }

    /// Whether the file with this kernel (device, inode) was examined.
    pub(crate) fn is_examined(&self, dev: u64, ino: u64) -> bool {
        self.examined.contains(&(dev, ino))
    }

    /// Opens `path` and examines it (see [`Self::examine_file`]).
    pub(crate) fn examine(
        &mut self,
        ebpf: &mut Ebpf,
        maps: &mut KernelMaps,
        path: &Path,
    ) -> Result<Examined, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
        self.examine_file(ebpf, maps, &file, path)
    }

    /// Examines an open file (`name` is for logs and health) and attaches
    /// the uprobes if it is an unseen OpenSSL. Reading and attaching both
    /// go through `file` (the uprobes through `/proc/self/fd/N`), so the
    /// file stays reachable however long the examination takes: the
    /// process that mapped it may exit and its `/proc/PID/root` vanish,
    /// yet the inode is probed for its next run.
    pub(crate) fn examine_file(
        &mut self,
        ebpf: &mut Ebpf,
        maps: &mut KernelMaps,
        file: &File,
        name: &Path,
    ) -> Result<Examined, CaptureError> {
        let meta = file.metadata().map_err(|source| CaptureError::Io {
            context: format!("stat {}", name.display()),
            source,
        })?;
        let key = (procfs::kernel_dev_from_stat(meta.dev()), meta.ino());
        if self.examined.contains(&key) {
            return Ok(Examined::Known);
        }
        // Only a concluded examination is remembered: a file that failed
        // to attach is tried again when it is mapped again.
        let (conclusion, source) = self.cache.conclude(file, meta.len());
        let outcome = match conclusion.probes {
            None => {
                if let Some(unhooked) = conclusion.unhooked {
                    self.report_unhooked(name, unhooked, source);
                }
                Examined::NotOpenSsl
            }
            Some(Probes {
                method,
                attach: points,
            }) => {
                attach(ebpf, file, name, &points)?;
                let from_cache = source == Source::Cache;
                // The file offset of a program's probe, for the log.
                let at = |program: &str| {
                    points
                        .iter()
                        .find(|a| a.program == program)
                        .map(|a| format!("{:#x}", a.offset))
                };
                match method {
                    ProbeMethod::OpenSslSymbols => {
                        tracing::info!(path = %name.display(), from_cache, "probing OpenSSL");
                    }
                    ProbeMethod::BoringSslStructure => {
                        tracing::info!(
                            path = %name.display(),
                            build_id = %conclusion.build_id.as_deref().unwrap_or("none"),
                            method = %"structure",
                            ssl_write = %at(programs::SSL_WRITE_ENTER).unwrap_or_default(),
                            ssl_read = %at(programs::SSL_READ_ENTER).unwrap_or_default(),
                            from_cache,
                            "probing BoringSSL"
                        );
                    }
                    ProbeMethod::AwsLcAeadSymbols | ProbeMethod::AwsLcAeadStructure => {
                        tracing::info!(
                            path = %name.display(),
                            build_id = %conclusion.build_id.as_deref().unwrap_or("none"),
                            method = %method.label(),
                            seal = %at(programs::AEAD_SEAL_ENTER).unwrap_or_default(),
                            open = %at(programs::AEAD_OPEN_ENTER).unwrap_or_default(),
                            seal_scatter = %at(programs::AEAD_SEAL_SCATTER_ENTER).unwrap_or_default(),
                            from_cache,
                            "probing aws-lc's AEAD functions (rustls)"
                        );
                    }
                }
                self.attached.push(ProbedBinary {
                    path: name.to_path_buf(),
                    method,
                });
                Examined::Attached
            }
        };
        self.examined.insert(key);
        maps.mark_seen(key.0, key.1);
        Ok(outcome)
    }

    /// Logs and counts an unhooked binary once per build (a cache hit is a
    /// build already reported) or per inode when it has no build-id or is a
    /// BoringSSL build the finder refused (refusals are not cached).
    fn report_unhooked(&mut self, name: &Path, unhooked: Unhooked, source: Source) {
        if source == Source::Cache {
            return;
        }
        let Unhooked { library, reason } = unhooked;
        tracing::warn!(
            path = %name.display(),
            tls_library = library.label(),
            reason = %reason,
            "binary does TLS that oispd cannot capture"
        );
        if let Some(i) = TlsStack::ALL.iter().position(|s| *s == library) {
            self.unhooked_counts[i] += 1;
        }
        if self.unhooked.len() < MAX_UNHOOKED_LISTED {
            self.unhooked.push(UnhookedBinary {
                path: name.to_path_buf(),
                library,
                reason,
            });
        }
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

    /// Examines every executable mapping of `pid` not seen before, each
    /// opened through `/proc/PID/map_files` (the mapped inode itself).
    pub(crate) fn scan_process(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, pid: u32) {
        let Ok(mappings) = procfs::exec_mappings(pid) else {
            return;
        };
        for m in mappings {
            if self.examined.contains(&(m.dev, m.ino)) {
                continue;
            }
            let Ok(file) = procfs::open_mapped(pid, &m) else {
                continue;
            };
            if self.examine_quietly(ebpf, maps, &file, Path::new(&m.path)) {
                // The maps key may differ from stat's (btrfs subvolumes,
                // overlayfs): remember both so neither side reports it again.
                self.examined.insert((m.dev, m.ino));
                maps.mark_seen(m.dev, m.ino);
            }
        }
    }

    /// Examines the executable of a process that just exec'd (the kernel
    /// maps it without an mmap call, so no EXEC_MAP record covers it),
    /// opened through `/proc/PID/exe`.
    pub(crate) fn scan_exe(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, pid: u32) {
        let Ok(file) = procfs::open_exe(pid) else {
            return;
        };
        let name = procfs::exe(pid).unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/exe")));
        self.examine_quietly(ebpf, maps, &file, &name);
    }

    /// Examines the usual library directories and executables.
    pub(crate) fn scan_standard_locations(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps) {
        for dir in LIBRARY_DIRS {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("libssl.so") {
                    self.open_and_examine_quietly(ebpf, maps, &entry.path());
                }
            }
        }
        for exe in KNOWN_EXECUTABLES {
            self.open_and_examine_quietly(ebpf, maps, Path::new(exe));
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

    fn open_and_examine_quietly(&mut self, ebpf: &mut Ebpf, maps: &mut KernelMaps, path: &Path) {
        if let Ok(file) = File::open(path) {
            self.examine_quietly(ebpf, maps, &file, path);
        }
    }

    /// Examines a discovered file; failures are logged, not fatal (the
    /// file may be unreadable). True when concluded.
    fn examine_quietly(
        &mut self,
        ebpf: &mut Ebpf,
        maps: &mut KernelMaps,
        file: &File,
        name: &Path,
    ) -> bool {
        match self.examine_file(ebpf, maps, file, name) {
            Ok(_) => true,
            Err(CaptureError::Io { .. }) => false,
            Err(e) => {
                tracing::warn!(path = %name.display(), error = %e, "cannot probe the TLS library");
                false
            }
        }
    }
}

/// Attaches `probes` to the open `file` (named `name` in errors) through
/// `/proc/self/fd/N`: the kernel resolves that path to the open file's
/// inode at `perf_event_open`, and aya passes a path with a directory part
/// through unchanged (only a bare file name is looked up in maps or
/// ld.so.cache). `file` is borrowed, so it stays open until every attach
/// is done. On failure detaches the ones already made, so a file is either
/// fully probed or not at all.
fn attach(
    ebpf: &mut Ebpf,
    file: &File,
    name: &Path,
    probes: &[Attach],
) -> Result<(), CaptureError> {
    let target = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let mut done: Vec<(&str, UProbeLinkId)> = Vec::new();
    for &Attach { program, offset } in probes {
        let result = uprobe(ebpf, program).and_then(|p| {
            p.attach(
                UProbeAttachLocation::AbsoluteOffset(offset),
                &target,
                UProbeScope::AllProcesses,
            )
            .map_err(|e| CaptureError::Attach {
                program: program.into(),
                target: format!("{}+{offset:#x}", name.display()),
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
