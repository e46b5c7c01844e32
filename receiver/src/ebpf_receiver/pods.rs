//! Pod identity on the node, without an API server: the namespace, pod and
//! container names of a process whose cgroup names a Kubernetes pod, read
//! from the names the kubelet gives its log directories.
//!
//! The kubelet keeps `<log dir>/pods/<namespace>_<pod>_<uid>/<container>/`
//! for every pod on the node, and `<log dir>/containers/
//! <pod>_<namespace>_<container>-<container id>.log` for every container.
//! Namespaces, pod names and container names are DNS names, which never
//! hold `_`, so the fields split without ambiguity. The pod UID (and the
//! container id) come from the process's cgroup (`procs`). The names are
//! cached per pod UID and per container id; a lookup that finds nothing is
//! not cached, so a pod whose directory appears later is still named.
//! Directories are read with bounds: at most [`MAX_ENTRIES`] entries, names
//! of at most [`MAX_NAME`] bytes.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use crate::capture::PodIdentity;

/// Directory entries read per lookup at most.
const MAX_ENTRIES: usize = 65_536;
/// Longest directory or file name considered (a DNS subdomain is at most 253).
const MAX_NAME: usize = 512;
/// Pods and containers cached at most; past it the cache starts over.
const MAX_CACHED: usize = 16_384;

/// Namespace and pod name of one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PodName {
    namespace: String,
    pod: String,
    /// The container directories under the pod's directory.
    containers: Vec<String>,
}

/// Looks pod identities up in the kubelet's log directories.
#[derive(Debug)]
pub(crate) struct PodLogs {
    pods_dir: PathBuf,
    containers_dir: PathBuf,
    pods: HashMap<String, PodName>,
    containers: HashMap<String, String>,
}

impl PodLogs {
    /// Lookups under `log_dir` (`/var/log` on a node).
    pub(crate) fn new(log_dir: impl Into<PathBuf>) -> PodLogs {
        let log_dir = log_dir.into();
        PodLogs {
            pods_dir: log_dir.join("pods"),
            containers_dir: log_dir.join("containers"),
            pods: HashMap::new(),
            containers: HashMap::new(),
        }
    }

    /// The identity of the pod `pod_uid`, with the container name when
    /// `container_id` is found (or when the pod has one container only).
    /// `None` when the node has no log directory for that pod.
    pub(crate) fn resolve(
        &mut self,
        pod_uid: &str,
        container_id: Option<&str>,
    ) -> Option<PodIdentity> {
        let pod = self.pod(pod_uid)?;
        let container = container_id
            .and_then(|id| self.container(&pod, id))
            .or_else(|| match pod.containers.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            });
        Some(PodIdentity {
            namespace: pod.namespace,
            pod_name: pod.pod,
            container_name: container,
        })
    }

    fn pod(&mut self, uid: &str) -> Option<PodName> {
        if let Some(p) = self.pods.get(uid) {
            return Some(p.clone());
        }
        let suffix = format!("_{uid}");
        let dir_name = bounded_names(&self.pods_dir).find(|n| n.ends_with(&suffix))?;
        let (namespace, pod) = dir_name.strip_suffix(&suffix)?.split_once('_')?;
        if namespace.is_empty() || pod.is_empty() || pod.contains('_') {
            return None;
        }
        let mut containers: Vec<String> = bounded_names(&self.pods_dir.join(&dir_name)).collect();
        containers.sort();
        let name = PodName {
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            containers,
        };
        if self.pods.len() >= MAX_CACHED {
            self.pods.clear();
        }
        self.pods.insert(uid.to_string(), name.clone());
        Some(name)
    }

    fn container(&mut self, pod: &PodName, id: &str) -> Option<String> {
        if let Some(c) = self.containers.get(id) {
            return Some(c.clone());
        }
        let prefix = format!("{}_{}_", pod.pod, pod.namespace);
        let suffix = format!("-{id}.log");
        let name = bounded_names(&self.containers_dir).find_map(|n| {
            let container = n.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
            (!container.is_empty() && !container.contains('_')).then(|| container.to_string())
        })?;
        if self.containers.len() >= MAX_CACHED {
            self.containers.clear();
        }
        self.containers.insert(id.to_string(), name.clone());
        Some(name)
    }
}

/// The UTF-8 names in `dir` no longer than [`MAX_NAME`], from the first
/// [`MAX_ENTRIES`] entries; nothing when it cannot be read.
fn bounded_names(dir: &std::path::Path) -> impl Iterator<Item = String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .take(MAX_ENTRIES)
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.len() <= MAX_NAME)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const UID: &str = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c";
    const CID: &str = "4f2a9c1b8e7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";
    const OTHER_CID: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    /// A kubelet-shaped tree: pod `agent-7d9f` in `ai-team` with the
    /// containers `agent` and `sidecar`, and another pod.
    fn kubelet_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let pods = dir.path().join("pods");
        for c in ["agent", "sidecar"] {
            fs::create_dir_all(pods.join(format!("ai-team_agent-7d9f_{UID}")).join(c)).unwrap();
        }
        fs::create_dir_all(
            pods.join("kube-system_coredns-1_11111111-2222-3333-4444-555555555555/coredns"),
        )
        .unwrap();
        let containers = dir.path().join("containers");
        fs::create_dir_all(&containers).unwrap();
        fs::write(
            containers.join(format!("agent-7d9f_ai-team_agent-{CID}.log")),
            "",
        )
        .unwrap();
        fs::write(
            containers.join(format!("agent-7d9f_ai-team_sidecar-{OTHER_CID}.log")),
            "",
        )
        .unwrap();
        dir
    }

    /// Scenario: a process of the `agent` container of a two-container pod.
    /// Guarantees: namespace, pod and container names come from the tree.
    #[test]
    fn names_come_from_the_kubelet_log_directories() {
        let tree = kubelet_tree();
        let mut logs = PodLogs::new(tree.path());
        let id = logs.resolve(UID, Some(CID)).unwrap();
        assert_eq!(
            id,
            PodIdentity {
                namespace: "ai-team".into(),
                pod_name: "agent-7d9f".into(),
                container_name: Some("agent".into()),
            }
        );
        let sidecar = logs.resolve(UID, Some(OTHER_CID)).unwrap();
        assert_eq!(sidecar.container_name.as_deref(), Some("sidecar"));
    }

    /// Scenario: the container id is unknown, in a pod of two containers
    /// and in a pod of one.
    /// Guarantees: the container is named only when the pod has one.
    #[test]
    fn container_without_its_id_is_named_only_when_it_is_the_only_one() {
        let tree = kubelet_tree();
        let mut logs = PodLogs::new(tree.path());
        assert_eq!(logs.resolve(UID, None).unwrap().container_name, None);
        let dns = logs
            .resolve("11111111-2222-3333-4444-555555555555", None)
            .unwrap();
        assert_eq!(
            (dns.namespace.as_str(), dns.pod_name.as_str()),
            ("kube-system", "coredns-1")
        );
        assert_eq!(dns.container_name.as_deref(), Some("coredns"));
    }

    /// Scenario: a pod whose directory is created after the first lookup,
    /// and a node without any log directory.
    /// Guarantees: the miss is not cached; no directory gives no identity.
    #[test]
    fn a_pod_directory_created_later_is_found() {
        let tree = tempfile::tempdir().unwrap();
        let mut logs = PodLogs::new(tree.path());
        assert_eq!(logs.resolve(UID, None), None);
        fs::create_dir_all(tree.path().join(format!("pods/ns_p_{UID}/c"))).unwrap();
        assert_eq!(logs.resolve(UID, None).unwrap().pod_name, "p");
        assert_eq!(PodLogs::new("/nonexistent").resolve(UID, None), None);
    }

    /// Scenario: directory names that do not have the kubelet's shape
    /// (an extra `_`, an empty namespace).
    /// Guarantees: they are not taken apart into wrong names.
    #[test]
    fn malformed_directory_names_give_no_identity() {
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir_all(tree.path().join(format!("pods/ns_po_d_{UID}"))).unwrap();
        assert_eq!(PodLogs::new(tree.path()).resolve(UID, None), None);
        let tree = tempfile::tempdir().unwrap();
        fs::create_dir_all(tree.path().join(format!("pods/_pod_{UID}"))).unwrap();
        assert_eq!(PodLogs::new(tree.path()).resolve(UID, None), None);
    }
}
