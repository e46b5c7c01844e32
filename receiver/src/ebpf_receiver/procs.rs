//! The process table behind event enrichment: pid, parent, executable,
//! name, command line, uid and user name, container id and Kubernetes pod
//! of every process the capture reports, cached per pid.
//!
//! An entry is read from `/proc/PID` the first time a pid is seen, rebuilt
//! from the exec record when the process execs (the record carries what a
//! short-lived process no longer has in `/proc`), copied from the parent
//! when a process forks, and forgotten when it exits. Container and pod
//! come from `/proc/PID/cgroup` (Docker, containerd, CRI-O, Podman and the
//! kubelet's `kubepods` slices, with both cgroup drivers); the pod's
//! namespace, pod and container names from the kubelet's log directories
//! (`pods`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::pods::PodLogs;
use crate::capture::{ProcInfo, ProcessLookup};

/// Entries kept at most; past it the table starts over (it only happens
/// when exit records were lost, since exits forget their entry).
const MAX_ENTRIES: usize = 65_536;
/// Users names cached at most.
const MAX_USERS: usize = 4096;

/// What the exec tracepoint reported about a process.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecFacts {
    /// Process id.
    pub pid: u32,
    /// Parent.
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// Task name after exec.
    pub comm: String,
    /// The file passed to execve.
    pub filename: String,
    /// Arguments.
    pub argv: Vec<String>,
}

/// Cached facts about processes, readable through [`ProcessLookup`].
#[derive(Debug)]
pub(crate) struct ProcTable {
    proc_root: PathBuf,
    passwd: PathBuf,
    entries: HashMap<u32, ProcInfo>,
    users: HashMap<u32, Option<String>>,
    pods: PodLogs,
}

impl ProcTable {
    /// A table reading `proc_root` (`/proc`), `passwd` (`/etc/passwd`)
    /// and the kubelet's log directories under `kubelet_log_dir` (`/var/log`).
    pub(crate) fn new(
        proc_root: impl Into<PathBuf>,
        passwd: impl Into<PathBuf>,
        kubelet_log_dir: impl Into<PathBuf>,
    ) -> ProcTable {
        ProcTable {
            proc_root: proc_root.into(),
            passwd: passwd.into(),
            entries: HashMap::new(),
            users: HashMap::new(),
            pods: PodLogs::new(kubelet_log_dir),
        }
    }

    /// Makes sure `pid` has an entry, reading `/proc` the first time.
    pub(crate) fn observe(&mut self, pid: u32) {
        if self.entries.contains_key(&pid) {
            return;
        }
        let info = self.read_proc(pid);
        self.insert(info);
    }

    /// The entry of `pid`, if any.
    pub(crate) fn get(&self, pid: u32) -> Option<&ProcInfo> {
        self.entries.get(&pid)
    }

    /// `pid` replaced its program: the entry is rebuilt from the record,
    /// completed from `/proc` where it is still there. `/proc` shows the
    /// process as it is when the record is read, which may be a later
    /// program (`ip netns exec` execs the command on the same pid at
    /// once): its executable path is taken only while its name is still
    /// the record's.
    pub(crate) fn exec(&mut self, facts: &ExecFacts) {
        let from_proc = self.read_proc(facts.pid);
        let cmdline = if facts.argv.is_empty() {
            from_proc.cmdline
        } else {
            Some(facts.argv.join(" "))
        };
        let same_program =
            facts.comm.is_empty() || from_proc.name.as_deref() == Some(facts.comm.as_str());
        let recorded = (!facts.filename.is_empty()).then(|| facts.filename.clone());
        let exe = if same_program {
            from_proc.exe.or(recorded)
        } else {
            recorded
        };
        let name = (!facts.comm.is_empty())
            .then(|| facts.comm.clone())
            .or(from_proc.name);
        let user = self.user_name(facts.uid);
        self.insert(ProcInfo {
            pid: facts.pid,
            ppid: Some(facts.ppid).filter(|p| *p != 0).or(from_proc.ppid),
            exe,
            name,
            cmdline,
            uid: Some(facts.uid),
            user,
            container_id: from_proc.container_id,
            pod_uid: from_proc.pod_uid,
            pod: from_proc.pod,
        });
    }

    /// `parent` forked `child`: the child runs the parent's program until
    /// it execs, so it starts with the parent's facts.
    pub(crate) fn fork(&mut self, parent: u32, child: u32) {
        self.observe(parent);
        let mut info = self.entries.get(&parent).cloned().unwrap_or_default();
        info.pid = child;
        info.ppid = Some(parent);
        self.insert(info);
    }

    /// The working directory of `pid` now (`/proc/PID/cwd`).
    pub(crate) fn cwd(&self, pid: u32) -> Option<String> {
        std::fs::read_link(self.proc_root.join(pid.to_string()).join("cwd"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// `pid` exited: its entry goes.
    pub(crate) fn forget(&mut self, pid: u32) {
        self.entries.remove(&pid);
    }

    /// Entries held now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn insert(&mut self, info: ProcInfo) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&info.pid) {
            self.entries.clear();
        }
        self.entries.insert(info.pid, info);
    }

    /// What `/proc/PID` says now (only the pid when the process is gone).
    fn read_proc(&mut self, pid: u32) -> ProcInfo {
        let dir = self.proc_root.join(pid.to_string());
        let text = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let status = text("status").unwrap_or_default();
        let status_field = |key: &str| {
            status.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|v| v.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let ppid = status_field("PPid").and_then(|v| v.parse().ok());
        // Real uid is the first of the four.
        let uid = status_field("Uid")
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok());
        let name = text("comm")
            .map(|c| c.trim_end_matches('\n').to_string())
            .filter(|c| !c.is_empty());
        let exe = std::fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let cmdline = std::fs::read(dir.join("cmdline"))
            .ok()
            .map(|raw| join_cmdline(&raw))
            .filter(|c| !c.is_empty());
        let cgroup = text("cgroup").map(|t| parse_cgroup(&t)).unwrap_or_default();
        let user = uid.and_then(|u| self.user_name(u));
        let pod = cgroup
            .pod_uid
            .as_deref()
            .and_then(|uid| self.pods.resolve(uid, cgroup.container_id.as_deref()));
        ProcInfo {
            pid,
            ppid,
            exe,
            name,
            cmdline,
            uid,
            user,
            container_id: cgroup.container_id,
            pod_uid: cgroup.pod_uid,
            pod,
        }
    }

    /// The name of `uid` from the passwd file, cached (misses too).
    fn user_name(&mut self, uid: u32) -> Option<String> {
        if let Some(u) = self.users.get(&uid) {
            return u.clone();
        }
        let name = std::fs::read_to_string(&self.passwd)
            .ok()
            .and_then(|t| passwd_name(&t, uid));
        if self.users.len() >= MAX_USERS {
            self.users.clear();
        }
        self.users.insert(uid, name.clone());
        name
    }
}

impl ProcessLookup for ProcTable {
    fn lookup(&self, pid: u32) -> Option<ProcInfo> {
        self.entries.get(&pid).cloned()
    }
}

/// Longest command line kept, in bytes: every event of the process carries
/// it (the kernel's exec record keeps at most 2 KiB of argv).
const MAX_CMDLINE: usize = 4096;

/// `/proc/PID/cmdline` (NUL-separated) as one space-separated line, cut at
/// [`MAX_CMDLINE`] bytes (on a character boundary).
fn join_cmdline(raw: &[u8]) -> String {
    let mut line = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    if line.len() > MAX_CMDLINE {
        let mut end = MAX_CMDLINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line
}

/// The user name of `uid` in a passwd file.
fn passwd_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Container and pod found in a cgroup file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CgroupFacts {
    /// The 64-hex container id.
    pub container_id: Option<String>,
    /// The Kubernetes pod UID (dashed form).
    pub pod_uid: Option<String>,
}

/// Container id and pod UID from `/proc/PID/cgroup` text: the last path
/// segment holding a 64-hex id (`docker-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `libpod-<id>.scope`, `/docker/<id>`, `/kubepods/.../<id>`)
/// and a `pod<uid>` segment (`kubepods-burstable-pod<uid>.slice` with
/// underscores for the systemd driver, `/kubepods/burstable/pod<uid>` for cgroupfs).
pub(crate) fn parse_cgroup(text: &str) -> CgroupFacts {
    let mut facts = CgroupFacts::default();
    for line in text.lines() {
        // hierarchy-ID:controllers:path
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let kubepods = path.contains("kubepods");
        for segment in path.split('/') {
            if let Some(id) = container_id_in(segment) {
                facts.container_id = Some(id);
            }
            if let Some(uid) = pod_uid_in(segment).filter(|_| kubepods) {
                facts.pod_uid = Some(uid);
            }
        }
    }
    facts
}

fn container_id_in(segment: &str) -> Option<String> {
    let s = segment.strip_suffix(".scope").unwrap_or(segment);
    let id = s.rsplit(['-', ':']).next()?;
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

fn pod_uid_in(segment: &str) -> Option<String> {
    let s = segment.strip_suffix(".slice").unwrap_or(segment);
    let at = s.rfind("pod")?;
    let uid = s[at + 3..].replace('_', "-");
    let ok = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    ok.then(|| uid.to_ascii_lowercase())
}

/// The production table (`/proc`, `/etc/passwd`, the kubelet's logs
/// under `kubelet_log_dir`).
pub(crate) fn system_table(kubelet_log_dir: &Path) -> ProcTable {
    ProcTable::new(
        Path::new("/proc"),
        Path::new("/etc/passwd"),
        kubelet_log_dir,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CID: &str = "4f2a9c1b8e7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";
    const POD: &str = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c";

    fn fake_proc(dir: &Path, pid: u32, cgroup: &str) {
        let p = dir.join("proc").join(pid.to_string());
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("status"),
            "Name:\tagent\nPPid:\t77\nUid:\t1000\t1000\t1000\t1000\n",
        )
        .unwrap();
        std::fs::write(p.join("comm"), "agent\n").unwrap();
        std::fs::write(p.join("cmdline"), b"python3\0agent.py\0--fast\0").unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3.11", p.join("exe")).unwrap();
        std::os::unix::fs::symlink("/home/alice/project", p.join("cwd")).unwrap();
        std::fs::write(p.join("cgroup"), cgroup).unwrap();
        std::fs::write(
            dir.join("passwd"),
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
    }

    /// Scenario: a process in a Kubernetes pod (systemd driver) seen first by pid.
    /// Guarantees: every field comes from /proc; container and pod from the cgroup; user from passwd.
    #[test]
    fn reads_a_process_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        let pod = POD.replace('-', "_");
        fake_proc(
            dir.path(),
            42,
            &format!("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod}.slice/cri-containerd-{CID}.scope\n"),
        );
        let mut t = ProcTable::new(
            dir.path().join("proc"),
            dir.path().join("passwd"),
            dir.path(),
        );
        t.observe(42);
        let p = t.lookup(42).unwrap();
        assert_eq!(p.ppid, Some(77));
        assert_eq!(p.exe.as_deref(), Some("/usr/bin/python3.11"));
        assert_eq!(p.name.as_deref(), Some("agent"));
        assert_eq!(p.cmdline.as_deref(), Some("python3 agent.py --fast"));
        assert_eq!((p.uid, p.user.as_deref()), (Some(1000), Some("alice")));
        assert_eq!(p.container_id.as_deref(), Some(CID));
        assert_eq!(p.pod_uid.as_deref(), Some(POD));
        assert_eq!(t.cwd(42).as_deref(), Some("/home/alice/project"));
        assert_eq!(t.cwd(43), None);
    }

    /// Scenario: exec of a process already gone from /proc, a fork of it, then exit.
    /// Guarantees: the exec record alone fills the entry; the child inherits it; exit forgets.
    #[test]
    fn exec_fork_and_exit_keep_the_table_current() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 1, "0::/\n");
        let mut t = ProcTable::new(
            dir.path().join("proc"),
            dir.path().join("passwd"),
            dir.path(),
        );
        t.exec(&ExecFacts {
            pid: 500,
            ppid: 1,
            uid: 0,
            comm: "curl".into(),
            filename: "/usr/bin/curl".into(),
            argv: vec!["curl".into(), "-s".into()],
        });
        let p = t.get(500).unwrap().clone();
        assert_eq!(p.exe.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(p.name.as_deref(), Some("curl"));
        assert_eq!(p.cmdline.as_deref(), Some("curl -s"));
        assert_eq!((p.ppid, p.user.as_deref()), (Some(1), Some("root")));
        assert_eq!(p.container_id, None);
        t.fork(500, 501);
        let c = t.get(501).unwrap();
        assert_eq!(
            (c.pid, c.ppid, c.name.as_deref()),
            (501, Some(500), Some("curl"))
        );
        t.forget(500);
        assert!(t.get(500).is_none());
        assert_eq!(t.len(), 1);
    }

    /// Scenario: exec records of a pid whose /proc entry already shows a
    /// later program (another name), and of one whose /proc entry is the
    /// recorded program reached through a symlink (the same name).
    /// Guarantees: the first keeps the recorded path; the second takes
    /// /proc's resolved one.
    #[test]
    fn exec_takes_proc_exe_only_while_proc_shows_the_recorded_program() {
        let dir = tempfile::tempdir().unwrap();
        fake_proc(dir.path(), 42, "0::/\n");
        let mut t = ProcTable::new(
            dir.path().join("proc"),
            dir.path().join("passwd"),
            dir.path(),
        );
        let facts = |comm: &str, filename: &str| ExecFacts {
            pid: 42,
            ppid: 1,
            uid: 0,
            comm: comm.into(),
            filename: filename.into(),
            argv: vec![comm.into()],
        };
        t.exec(&facts("ip", "/usr/sbin/ip"));
        let p = t.get(42).unwrap();
        assert_eq!(
            (p.name.as_deref(), p.exe.as_deref()),
            (Some("ip"), Some("/usr/sbin/ip"))
        );
        t.exec(&facts("agent", "/usr/bin/python3"));
        let p = t.get(42).unwrap();
        assert_eq!(
            (p.name.as_deref(), p.exe.as_deref()),
            (Some("agent"), Some("/usr/bin/python3.11"))
        );
    }

    /// Scenario: a huge command line (a linker's), with multi-byte characters at the cut.
    /// Guarantees: it is cut at MAX_CMDLINE bytes on a character boundary.
    #[test]
    fn long_command_lines_are_cut() {
        let mut raw = b"ld\0".to_vec();
        for _ in 0..5000 {
            raw.extend_from_slice("é\0".as_bytes());
        }
        let line = join_cmdline(&raw);
        assert!(line.len() <= MAX_CMDLINE && line.len() > MAX_CMDLINE - 4);
        assert!(line.starts_with("ld é é"));
        assert_eq!(join_cmdline(b"a\0b\0\0"), "a b");
    }

    /// Scenario: cgroup lines of Docker, Podman, CRI-O, cgroupfs kubepods and a plain host slice.
    /// Guarantees: the container id and pod uid where present, nothing for the host.
    #[test]
    fn cgroup_layouts() {
        let docker = parse_cgroup(&format!("0::/system.slice/docker-{CID}.scope\n"));
        assert_eq!(docker.container_id.as_deref(), Some(CID));
        assert_eq!(docker.pod_uid, None);
        let v1 = parse_cgroup(&format!("12:memory:/docker/{CID}\n11:cpu:/docker/{CID}\n"));
        assert_eq!(v1.container_id.as_deref(), Some(CID));
        let podman = parse_cgroup(&format!("0::/machine.slice/libpod-{CID}.scope/container\n"));
        assert_eq!(podman.container_id.as_deref(), Some(CID));
        let crio = parse_cgroup(&format!(
            "0::/kubepods/besteffort/pod{POD}/crio-{CID}.scope\n"
        ));
        assert_eq!(crio.container_id.as_deref(), Some(CID));
        assert_eq!(crio.pod_uid.as_deref(), Some(POD));
        let host = parse_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n");
        assert_eq!(host, CgroupFacts::default());
        assert_eq!(parse_cgroup("garbage"), CgroupFacts::default());
    }
}
