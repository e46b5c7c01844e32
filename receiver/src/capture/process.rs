//! What the decoder needs to know about a process to enrich its events,
//! and the lookup through which the capture source provides it (from
//! `/proc`, from exec tracepoints, or from a table in tests).

use oispd_semconv::common::{Actor, K8s, ProcessInfo};

/// Facts about one process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id (tgid).
    pub pid: u32,
    /// Parent process id.
    pub ppid: Option<u32>,
    /// Executable path.
    pub exe: Option<String>,
    /// Process name (`comm` or the basename of `exe`).
    pub name: Option<String>,
    /// Full command line, arguments separated by spaces.
    pub cmdline: Option<String>,
    /// Real user id.
    pub uid: Option<u32>,
    /// User name of `uid`.
    pub user: Option<String>,
    /// Container id from the cgroup path.
    pub container_id: Option<String>,
    /// Kubernetes pod UID from the cgroup path.
    pub pod_uid: Option<String>,
    /// Namespace, pod and container names of that pod, found on the node.
    pub pod: Option<PodIdentity>,
}

/// Who a process is in Kubernetes terms, found on the node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodIdentity {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod_name: String,
    /// The name of the process's container in the pod spec, when known.
    pub container_name: Option<String>,
}

impl ProcInfo {
    /// The OISP process context.
    pub fn to_process(&self, tid: u32) -> ProcessInfo {
        ProcessInfo {
            pid: Some(self.pid),
            ppid: self.ppid,
            exe: self.exe.clone(),
            name: self.name.clone(),
            cmdline: self.cmdline.clone(),
            thread_id: Some(tid),
            container_id: self.container_id.clone(),
            ..ProcessInfo::default()
        }
    }

    /// Adds the pod UID and names to a host's Kubernetes context (nothing
    /// for a process outside a pod).
    pub fn fill_k8s(&self, k8s: &mut Option<K8s>) {
        let Some(uid) = &self.pod_uid else {
            return;
        };
        let k = k8s.get_or_insert_with(K8s::default);
        k.pod_uid = Some(uid.clone());
        if let Some(pod) = &self.pod {
            k.namespace = Some(pod.namespace.clone());
            k.pod_name = Some(pod.pod_name.clone());
            k.container_name.clone_from(&pod.container_name);
        }
    }

    /// The OISP actor context, when the user is known.
    pub fn to_actor(&self) -> Option<Actor> {
        if self.uid.is_none() && self.user.is_none() {
            return None;
        }
        Some(Actor {
            uid: self.uid,
            user: self.user.clone(),
            ..Actor::default()
        })
    }
}

/// Looks up a process by pid.
pub trait ProcessLookup {
    /// Facts about `pid`, if known.
    fn lookup(&self, pid: u32) -> Option<ProcInfo>;
}

/// A lookup that knows nothing: events carry only the pid and tid.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProcessLookup;

impl ProcessLookup for NoProcessLookup {
    fn lookup(&self, _pid: u32) -> Option<ProcInfo> {
        None
    }
}

impl<F: Fn(u32) -> Option<ProcInfo>> ProcessLookup for F {
    fn lookup(&self, pid: u32) -> Option<ProcInfo> {
        self(pid)
    }
}
