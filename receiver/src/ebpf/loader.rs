//! Loading the eBPF object with aya: knobs (`volatile const` globals), the
//! ring buffer's size, the tracepoint attachments, and the maps user space
//! keeps (ring buffer, drop counters, process flags, examined files). The
//! uprobe programs are loaded here and attached per library by
//! [`super::probes`].

use std::io;

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{RawTracePoint, TracePoint, UProbe};
use aya::{Ebpf, EbpfLoader};
use oispd_receiver_ebpf::records::{activity_mode, pid_flags};
use oispd_receiver_ebpf::{knobs, maps, object, programs};

use super::config::{ActivityMode, EbpfCaptureConfig};
use super::error::CaptureError;

/// The uprobe programs (all loaded at start, attached per library).
pub(crate) const UPROBE_PROGRAMS: [&str; 11] = [
    programs::SSL_WRITE_ENTER,
    programs::SSL_READ_ENTER,
    programs::SSL_WRITE_EX_ENTER,
    programs::SSL_READ_EX_ENTER,
    programs::SSL_RET,
    programs::SSL_EX_RET,
    programs::SSL_FREE_ENTER,
    programs::AEAD_SEAL_ENTER,
    programs::AEAD_SEAL_SCATTER_ENTER,
    programs::AEAD_OPEN_ENTER,
    programs::AEAD_OPEN_RET,
];

/// The loaded object and the maps user space works with.
pub(crate) struct Loaded {
    /// Programs and their links (dropping it detaches everything).
    pub ebpf: Ebpf,
    /// The ring buffer.
    pub ring: RingBuf<MapData>,
    /// Kernel-side maps other than the ring.
    pub maps: KernelMaps,
}

/// Maps user space reads or writes while running.
pub(crate) struct KernelMaps {
    drops: PerCpuArray<MapData, u64>,
    pid_flags: BpfHashMap<MapData, u32, u32>,
    seen_files: BpfHashMap<MapData, [u64; 2], u8>,
}

impl KernelMaps {
    /// Sum over CPUs of one drop counter.
    pub(crate) fn drop_count(&self, counter: u32) -> u64 {
        self.drops
            .get(&counter, 0)
            .map(|v| v.iter().sum())
            .unwrap_or(0)
    }

    /// Sets or clears `flag` of a process in the kernel.
    pub(crate) fn set_pid_flag(&mut self, pid: u32, flag: u32, on: bool) {
        let current = self.pid_flags.get(&pid, 0).unwrap_or(0);
        let next = if on { current | flag } else { current & !flag };
        if next == current {
            return;
        }
        let result = if next == 0 {
            self.pid_flags.remove(&pid)
        } else {
            self.pid_flags.insert(pid, next, 0)
        };
        if let Err(e) = result {
            tracing::warn!(pid, flag, error = %e, "cannot update pid_flags");
        }
    }

    /// Tells the kernel not to report mappings of this file again.
    pub(crate) fn mark_seen(&mut self, dev: u64, ino: u64) {
        // A full map only means more EXEC_MAP records, which user space dedupes.
        let _ = self.seen_files.insert([dev, ino], 1, 0);
    }
}

/// The process-flag bit that excludes a process.
pub(crate) const SKIP: u32 = pid_flags::SKIP;
/// The process-flag bit that selects a process for file activity.
pub(crate) const TRACE: u32 = pid_flags::TRACE;

/// Whether an error chain bottoms out in EPERM/EACCES.
fn is_permission_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::PermissionDenied {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

fn load_error(what: &str, err: &(dyn std::error::Error + 'static)) -> CaptureError {
    if is_permission_error(err) {
        return CaptureError::BpfNotPermitted {
            detail: format!("{what}: {err}"),
        };
    }
    let mut detail = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        detail.push_str(": ");
        detail.push_str(&e.to_string());
        cur = e.source();
    }
    CaptureError::Load {
        what: what.to_string(),
        detail,
    }
}

fn take_map(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map, CaptureError> {
    ebpf.take_map(name).ok_or_else(|| CaptureError::Load {
        what: format!("map {name}"),
        detail: "missing from the object".into(),
    })
}

fn program_mut<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T, CaptureError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf.program_mut(name).ok_or_else(|| CaptureError::Load {
        what: format!("program {name}"),
        detail: "missing from the object".into(),
    })?;
    program
        .try_into()
        .map_err(|e: aya::programs::ProgramError| load_error(&format!("program {name}"), &e))
}

/// Unconsumed bytes at which the kernel wakes the reader: 64 KiB, or an
/// eighth of a smaller ring. Less than that is picked up by the reader's
/// poll (see `pace`): a wakeup per record (the kernel's default when the
/// reader keeps up) costs each `SSL_*` call more than the rest of its
/// capture.
fn wakeup_bytes(ring_buffer_size: u32) -> u32 {
    (ring_buffer_size / 8).min(64 << 10)
}

/// Loads the object, attaches the tracepoints, loads the uprobe programs.
pub(crate) fn load(
    config: &EbpfCaptureConfig,
    own_tgid: u32,
    target_tgid: u32,
) -> Result<Loaded, CaptureError> {
    let mode = match config.activity {
        ActivityMode::Off => activity_mode::OFF,
        ActivityMode::Agents => activity_mode::AGENTS,
        ActivityMode::All => activity_mode::ALL,
    };
    let mut ebpf = EbpfLoader::new()
        .override_global(knobs::MAX_BODY_BYTES, &config.max_body_bytes, true)
        .override_global(knobs::OWN_TGID, &own_tgid, true)
        .override_global(knobs::TARGET_TGID, &target_tgid, true)
        .override_global(knobs::ACTIVITY_MODE, &mode, true)
        .override_global(
            knobs::WAKEUP_BYTES,
            &wakeup_bytes(config.ring_buffer_size),
            true,
        )
        .map_max_entries(maps::EVENTS, config.ring_buffer_size)
        .load(object())
        .map_err(|e| load_error("object", &e))?;

    let mut tracepoints: Vec<(&str, &str, &str)> = Vec::new();
    tracepoints.extend_from_slice(programs::tracepoints::PROCESS);
    tracepoints.extend_from_slice(programs::tracepoints::SOCKET_IO);
    if config.activity != ActivityMode::Off {
        tracepoints.extend_from_slice(programs::tracepoints::ACTIVITY);
    }
    for (name, category, event) in tracepoints {
        let tp: &mut TracePoint = program_mut(&mut ebpf, name)?;
        tp.load()
            .map_err(|e| load_error(&format!("program {name}"), &e))?;
        tp.attach(category, event)
            .map_err(|e| CaptureError::Attach {
                program: name.into(),
                target: format!("tracepoint {category}:{event}"),
                detail: e.to_string(),
            })?;
    }

    let (fork_prog, fork_tp) = programs::FORK;
    let fork: &mut RawTracePoint = program_mut(&mut ebpf, fork_prog)?;
    fork.load()
        .map_err(|e| load_error(&format!("program {fork_prog}"), &e))?;
    fork.attach(fork_tp).map_err(|e| CaptureError::Attach {
        program: fork_prog.into(),
        target: format!("raw tracepoint {fork_tp}"),
        detail: e.to_string(),
    })?;

    for name in UPROBE_PROGRAMS {
        let p: &mut UProbe = program_mut(&mut ebpf, name)?;
        p.load()
            .map_err(|e| load_error(&format!("program {name}"), &e))?;
    }

    let ring = RingBuf::try_from(take_map(&mut ebpf, maps::EVENTS)?)
        .map_err(|e| load_error("map events", &e))?;
    let drops = PerCpuArray::try_from(take_map(&mut ebpf, maps::DROPS)?)
        .map_err(|e| load_error("map drops", &e))?;
    let pid_flags = BpfHashMap::try_from(take_map(&mut ebpf, maps::PID_FLAGS)?)
        .map_err(|e| load_error("map pid_flags", &e))?;
    let seen_files = BpfHashMap::try_from(take_map(&mut ebpf, maps::SEEN_FILES)?)
        .map_err(|e| load_error("map seen_files", &e))?;

    Ok(Loaded {
        ebpf,
        ring,
        maps: KernelMaps {
            drops,
            pid_flags,
            seen_files,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: an EPERM wrapped in a loader error, and a plain failure.
    /// Guarantees: the first becomes "BPF not permitted", the second a load
    /// error with the whole chain.
    #[test]
    fn permission_errors_are_recognised() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        let eperm = Outer(io::Error::from_raw_os_error(libc::EPERM));
        assert!(matches!(
            load_error("object", &eperm),
            CaptureError::BpfNotPermitted { .. }
        ));
        let other = Outer(io::Error::from_raw_os_error(libc::EINVAL));
        match load_error("program x", &other) {
            CaptureError::Load { what, detail } => {
                assert_eq!(what, "program x");
                assert!(detail.starts_with("outer: "), "{detail}");
            }
            e => panic!("{e:?}"),
        }
    }
}
