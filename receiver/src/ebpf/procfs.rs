//! Reading `/proc`: processes, their executable mappings, names, cgroups,
//! working directories and open files; and device-number conversions
//! between the kernel's internal `dev_t` (what the eBPF programs see),
//! `/proc/PID/maps` and `stat(2)`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One executable, file-backed mapping of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExecMapping {
    /// Kernel `dev_t` of the file's device (`major << 20 | minor`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Path as the process sees it (inside its mount namespace).
    pub path: String,
    /// The address range of its first executable mapping (`start-end`,
    /// hex), the name of its `/proc/PID/map_files` entry.
    pub range: String,
}

/// Kernel-internal `dev_t` from major and minor numbers.
pub(crate) fn kernel_dev(major: u64, minor: u64) -> u64 {
    (major << 20) | minor
}

/// Kernel-internal `dev_t` from a `stat(2)` `st_dev` (glibc encoding).
pub(crate) fn kernel_dev_from_stat(st_dev: u64) -> u64 {
    let major = ((st_dev >> 8) & 0xfff) | ((st_dev >> 32) & 0xffff_f000);
    let minor = (st_dev & 0xff) | ((st_dev >> 12) & 0xffff_ff00);
    kernel_dev(major, minor)
}

/// Parses `/proc/PID/maps` text into its executable file mappings, each file once.
pub(crate) fn parse_exec_mappings(maps: &str) -> Vec<ExecMapping> {
    let mut out: Vec<ExecMapping> = Vec::new();
    for line in maps.lines() {
        let mut fields = line.splitn(6, ' ');
        let (Some(range), Some(perms), Some(_offset), Some(dev), Some(ino)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        let path = fields.next().unwrap_or("").trim_start();
        if !perms.contains('x') || !path.starts_with('/') {
            continue;
        }
        let Ok(ino) = ino.parse::<u64>() else {
            continue;
        };
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (
            u64::from_str_radix(major, 16),
            u64::from_str_radix(minor, 16),
        ) else {
            continue;
        };
        if ino == 0 {
            continue;
        }
        let path = path.strip_suffix(" (deleted)").unwrap_or(path).to_string();
        let mapping = ExecMapping {
            dev: kernel_dev(major, minor),
            ino,
            path,
            range: range.to_string(),
        };
        if !out
            .iter()
            .any(|m| m.dev == mapping.dev && m.ino == mapping.ino)
        {
            out.push(mapping);
        }
    }
    out
}

/// The executable file mappings of `pid`.
pub(crate) fn exec_mappings(pid: u32) -> io::Result<Vec<ExecMapping>> {
    Ok(parse_exec_mappings(&fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// Every process id in `/proc`.
pub(crate) fn pids() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// `path` as seen from `pid`'s root directory (reaches into containers).
pub(crate) fn in_root_of(pid: u32, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root{path}"))
}

/// Opens the file `pid` maps at `range` through `/proc/PID/map_files`
/// (the mapped inode itself, wherever the process's mount namespace put
/// it; needs CAP_SYS_ADMIN), falling back to `path` in the process's root.
pub(crate) fn open_mapped(pid: u32, m: &ExecMapping) -> io::Result<fs::File> {
    fs::File::open(format!("/proc/{pid}/map_files/{}", m.range))
        .or_else(|_| fs::File::open(in_root_of(pid, &m.path)))
}

/// Opens the executable `pid` runs (the exec'd inode, even if its path
/// was since replaced).
pub(crate) fn open_exe(pid: u32) -> io::Result<fs::File> {
    fs::File::open(format!("/proc/{pid}/exe"))
}

/// The task name (`comm`).
pub(crate) fn comm(pid: u32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(s.trim_end_matches('\n').to_string())
}

/// The executable's path.
pub(crate) fn exe(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The cgroup paths of the process, one per hierarchy.
pub(crate) fn cgroups(pid: u32) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|s| parse_cgroups(&s))
        .unwrap_or_default()
}

fn parse_cgroups(text: &str) -> Vec<String> {
    let mut paths: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .map(str::to_string)
        .collect();
    paths.dedup();
    paths
}

/// What `fd` of `pid` refers to (a path, `socket:[N]`, ...).
pub(crate) fn fd_target(pid: u32, fd: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
}

/// The working directory of `pid`.
pub(crate) fn cwd(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Resolves a path given to `openat(dfd, path)` to an absolute path when possible.
pub(crate) fn resolve_at(pid: u32, dfd: i32, path: &str) -> String {
    const AT_FDCWD: i32 = -100;
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if dfd == AT_FDCWD {
        cwd(pid)
    } else {
        fd_target(pid, dfd)
    };
    match base {
        Some(base) => join(&base, path),
        None => path.to_string(),
    }
}

fn join(base: &Path, rel: &str) -> String {
    base.join(rel).to_string_lossy().into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: a maps file with text, data, anonymous, deleted and
    /// special mappings, and a path with a space.
    /// Guarantees: only executable file mappings, each file once, with the
    /// kernel dev_t and the path without " (deleted)".
    #[test]
    fn exec_mappings_are_parsed() {
        let maps = "\
55d0c0000000-55d0c0001000 r--p 00000000 fd:01 1234                       /usr/bin/python3.11
55d0c0001000-55d0c0002000 r-xp 00001000 fd:01 1234                       /usr/bin/python3.11
7f0000000000-7f0000100000 r-xp 00020000 fd:01 5678                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f0000100000-7f0000200000 r-xp 00120000 fd:01 5678                       /usr/lib/x86_64-linux-gnu/libssl.so.3
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
7f0000300000-7f0000400000 r-xp 00000000 103:02 99                        /opt/my app/libssl.so.1.1 (deleted)
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0                          [vdso]
";
        let m = parse_exec_mappings(maps);
        assert_eq!(
            m,
            vec![
                ExecMapping {
                    dev: (0xfd << 20) | 1,
                    ino: 1234,
                    path: "/usr/bin/python3.11".into(),
                    range: "55d0c0001000-55d0c0002000".into(),
                },
                ExecMapping {
                    dev: (0xfd << 20) | 1,
                    ino: 5678,
                    path: "/usr/lib/x86_64-linux-gnu/libssl.so.3".into(),
                    range: "7f0000000000-7f0000100000".into(),
                },
                ExecMapping {
                    dev: (0x103 << 20) | 2,
                    ino: 99,
                    path: "/opt/my app/libssl.so.1.1".into(),
                    range: "7f0000300000-7f0000400000".into(),
                },
            ]
        );
    }

    /// Scenario: stat's st_dev for device 253:1 and for a large minor.
    /// Guarantees: converted to the kernel's internal dev_t.
    #[test]
    fn stat_dev_to_kernel_dev() {
        assert_eq!(kernel_dev_from_stat(0xfd01), (253 << 20) | 1);
        // major 259, minor 300: glibc puts minor's high bits at bit 20.
        let st_dev = (259 << 8) | (300 & 0xff) | ((300 & !0xff) << 12);
        assert_eq!(kernel_dev_from_stat(st_dev), (259 << 20) | 300);
    }

    /// Scenario: cgroup v1 + v2 lines.
    /// Guarantees: the paths, hierarchy prefixes stripped.
    #[test]
    fn cgroup_paths() {
        let text = "12:cpu:/docker/abc\n0::/system.slice/x.service\n";
        assert_eq!(
            parse_cgroups(text),
            vec!["/docker/abc", "/system.slice/x.service"]
        );
    }

    /// Scenario: this test process's own /proc entries.
    /// Guarantees: exe, comm and mappings are found.
    #[test]
    fn own_process() {
        let pid = std::process::id();
        assert!(pids().contains(&pid));
        assert!(exe(pid).is_some());
        assert!(comm(pid).is_some());
        let mappings = exec_mappings(pid).unwrap();
        assert!(!mappings.is_empty());
        // The mapped file opened through map_files is the mapped inode.
        use std::os::unix::fs::MetadataExt;
        for m in &mappings {
            let meta = open_mapped(pid, m).unwrap().metadata().unwrap();
            assert_eq!(
                (kernel_dev_from_stat(meta.dev()), meta.ino()),
                (m.dev, m.ino),
                "{}",
                m.path
            );
        }
        let exe_meta = open_exe(pid).unwrap().metadata().unwrap();
        let own = fs::metadata(std::env::current_exe().unwrap()).unwrap();
        assert_eq!((exe_meta.dev(), exe_meta.ino()), (own.dev(), own.ino()));
        assert_eq!(resolve_at(pid, -100, "/abs"), "/abs");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve_at(pid, -100, "rel.txt"),
            cwd.join("rel.txt").to_string_lossy()
        );
    }
}
