//! Which processes are captured (`include` / `exclude` by name, pid,
//! cgroup) and which file paths are reported (`file_paths`).
//!
//! Decisions are made in user space, once per process (again after an
//! exec), and cached; an excluded process is also flagged in the kernel's
//! `pid_flags` map so its TLS calls stop being copied at all.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::config::ProcessMatch;
use super::error::CaptureError;
use super::procfs;

/// What a process is matched on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcessInfo {
    /// `comm`.
    pub comm: Option<String>,
    /// Basename of the executable.
    pub exe_name: Option<String>,
    /// cgroup paths.
    pub cgroups: Vec<String>,
}

impl ProcessInfo {
    /// Reads what `/proc` still has about `pid`.
    pub(crate) fn of_pid(pid: u32) -> ProcessInfo {
        ProcessInfo {
            comm: procfs::comm(pid),
            exe_name: procfs::exe(pid).and_then(|p| basename(&p)),
            cgroups: procfs::cgroups(pid),
        }
    }
}

/// The last path component of `path`.
pub(crate) fn basename(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn glob_set(field: &str, globs: &[String]) -> Result<GlobSet, CaptureError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(
            Glob::new(g)
                .map_err(|e| CaptureError::Config(format!("'{field}': invalid glob {g:?}: {e}")))?,
        );
    }
    b.build()
        .map_err(|e| CaptureError::Config(format!("'{field}': {e}")))
}

/// A compiled [`ProcessMatch`].
#[derive(Debug)]
struct Matcher {
    names: GlobSet,
    pids: HashSet<u32>,
    cgroups: GlobSet,
}

impl Matcher {
    fn new(field: &str, m: &ProcessMatch) -> Result<Option<Matcher>, CaptureError> {
        if m.is_empty() {
            return Ok(None);
        }
        Ok(Some(Matcher {
            names: glob_set(&format!("{field}.names"), &m.names)?,
            pids: m.pids.iter().copied().collect(),
            cgroups: glob_set(&format!("{field}.cgroups"), &m.cgroups)?,
        }))
    }

    fn matches(&self, pid: u32, info: &ProcessInfo) -> bool {
        self.pids.contains(&pid)
            || info.comm.iter().any(|n| self.names.is_match(n))
            || info.exe_name.iter().any(|n| self.names.is_match(n))
            || info.cgroups.iter().any(|c| self.cgroups.is_match(c))
    }
}

/// Include/exclude decisions, cached per pid.
#[derive(Debug)]
pub(crate) struct ProcessFilter {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
    decisions: HashMap<u32, bool>,
}

/// The outcome of [`ProcessFilter::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Whether the process is captured.
    pub captured: bool,
    /// Whether this call made the decision (it was not cached).
    pub new: bool,
}

impl ProcessFilter {
    pub(crate) fn new(
        include: &ProcessMatch,
        exclude: &ProcessMatch,
    ) -> Result<ProcessFilter, CaptureError> {
        Ok(ProcessFilter {
            include: Matcher::new("include", include)?,
            exclude: Matcher::new("exclude", exclude)?,
            decisions: HashMap::new(),
        })
    }

    /// Whether every process is captured (nothing to decide).
    pub(crate) fn captures_all(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// The decision for a process described by `info`.
    pub(crate) fn decide(&self, pid: u32, info: &ProcessInfo) -> bool {
        let included = self.include.as_ref().is_none_or(|m| m.matches(pid, info));
        let excluded = self.exclude.as_ref().is_some_and(|m| m.matches(pid, info));
        included && !excluded
    }

    /// The cached decision for `pid`, made from `/proc` when missing.
    pub(crate) fn check(&mut self, pid: u32) -> Decision {
        if self.captures_all() {
            return Decision {
                captured: true,
                new: false,
            };
        }
        if let Some(&captured) = self.decisions.get(&pid) {
            return Decision {
                captured,
                new: false,
            };
        }
        let captured = self.decide(pid, &ProcessInfo::of_pid(pid));
        self.decisions.insert(pid, captured);
        Decision {
            captured,
            new: true,
        }
    }

    /// Decides again after an exec, from what the exec record says.
    pub(crate) fn redecide(&mut self, pid: u32, info: &ProcessInfo) -> bool {
        let captured = self.decide(pid, info);
        if !self.captures_all() {
            self.decisions.insert(pid, captured);
        }
        captured
    }

    /// Forgets an exited process.
    pub(crate) fn forget(&mut self, pid: u32) {
        self.decisions.remove(&pid);
    }
}

/// The `file_paths` globs; empty matches everything.
#[derive(Debug)]
pub(crate) struct PathFilter {
    globs: Option<GlobSet>,
}

impl PathFilter {
    pub(crate) fn new(globs: &[String]) -> Result<PathFilter, CaptureError> {
        Ok(PathFilter {
            globs: if globs.is_empty() {
                None
            } else {
                Some(glob_set("file_paths", globs)?)
            },
        })
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.globs.as_ref().is_none_or(|g| g.is_match(path))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn info(comm: &str, exe: &str, cgroup: &str) -> ProcessInfo {
        ProcessInfo {
            comm: Some(comm.into()),
            exe_name: Some(exe.into()),
            cgroups: vec![cgroup.into()],
        }
    }

    fn pm(names: &[&str], pids: &[u32], cgroups: &[&str]) -> ProcessMatch {
        ProcessMatch {
            names: names.iter().map(|s| s.to_string()).collect(),
            pids: pids.to_vec(),
            cgroups: cgroups.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Scenario: include by name glob, exclude by cgroup and by pid.
    /// Guarantees: captured = included and not excluded, matching comm or exe.
    #[test]
    fn include_and_exclude() {
        let f = ProcessFilter::new(
            &pm(&["python*", "node"], &[], &[]),
            &pm(&[], &[666], &["/system.slice/*"]),
        )
        .unwrap();
        assert!(f.decide(1, &info("python3", "python3.11", "/user.slice/a")));
        assert!(f.decide(2, &info("MainThread", "node", "/user.slice/a")));
        assert!(!f.decide(3, &info("curl", "curl", "/user.slice/a")));
        assert!(!f.decide(4, &info("python3", "python3", "/system.slice/x.service")));
        assert!(!f.decide(666, &info("node", "node", "/")));
        assert!(!f.captures_all());
    }

    /// Scenario: no include, no exclude.
    /// Guarantees: everything is captured without reading /proc.
    #[test]
    fn empty_filter_captures_all() {
        let mut f = ProcessFilter::new(&ProcessMatch::default(), &ProcessMatch::default()).unwrap();
        assert!(f.captures_all());
        assert_eq!(
            f.check(u32::MAX),
            Decision {
                captured: true,
                new: false
            }
        );
    }

    /// Scenario: exclusion of this test process by pid; checked twice, then
    /// re-decided after an "exec" into an included name.
    /// Guarantees: cached after the first check; redecide replaces it.
    #[test]
    fn decisions_are_cached_and_redecided() {
        let me = std::process::id();
        let mut f =
            ProcessFilter::new(&ProcessMatch::default(), &pm(&["sshd"], &[me], &[])).unwrap();
        assert_eq!(
            f.check(me),
            Decision {
                captured: false,
                new: true
            }
        );
        assert_eq!(
            f.check(me),
            Decision {
                captured: false,
                new: false
            }
        );
        assert!(f.redecide(me + 1, &info("bash", "bash", "/")));
        f.forget(me);
        assert!(f.check(me).new);
    }

    /// Scenario: file path globs, and none.
    /// Guarantees: matching as configured; none matches everything.
    #[test]
    fn path_filter() {
        let f = PathFilter::new(&["/home/**".into(), "/tmp/*.json".into()]).unwrap();
        assert!(f.matches("/home/u/.config/x"));
        assert!(f.matches("/tmp/a.json"));
        assert!(!f.matches("/etc/passwd"));
        assert!(PathFilter::new(&[]).unwrap().matches("/etc/passwd"));
    }
}
