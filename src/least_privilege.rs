//! Least privilege for the whole process: the capabilities a config's
//! receivers need (each receiver factory declares its own), and dropping
//! every other one before any thread exists, so that every thread oispd
//! and its libraries start (the async runtime's workers, the eBPF
//! receiver's thread, librdkafka's) inherits the reduced sets.
//!
//! Dropping happens before the receivers load anything; that is as early
//! as "after loading the BPF programs" would be and no earlier than it
//! need be, because the `ebpf` receiver needs the same capabilities to
//! keep probing TLS libraries while it runs as it needs to load. What
//! stays and why is documented in docs/security.md.

use caps::CapsHashSet;
use oispd_component::privileges::{self, Dropped, PrivilegeError};
use oispd_component::ComponentId;

use crate::config::Config;
use crate::registry::Registry;

/// The capabilities the receivers of `config`'s pipelines need.
pub fn needed(config: &Config, registry: &Registry) -> CapsHashSet {
    config
        .service
        .pipelines
        .values()
        .flat_map(|p| p.receivers.iter())
        .filter_map(|text| ComponentId::parse(text).ok())
        .filter_map(|id| registry.receiver(id.type_name()))
        .flat_map(|factory| factory.capabilities().iter().map(|r| r.capability))
        .collect()
}

/// Keeps only what `config` needs. Call it before any thread is started:
/// capability sets are per thread and only new threads inherit them.
pub fn drop_unneeded(config: &Config, registry: &Registry) -> Result<Dropped, PrivilegeError> {
    privileges::keep_only(&needed(config, registry))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{expand::ProcessEnv, load_texts};
    use caps::Capability;

    fn needed_by(yaml: &str) -> CapsHashSet {
        let config = load_texts(&[("test", yaml)], &ProcessEnv).unwrap();
        needed(&config, &Registry::builtin())
    }

    /// Scenario: an OTLP-only pipeline.
    /// Guarantees: it needs no capability at all.
    #[test]
    fn otlp_only_needs_nothing() {
        let set = needed_by(
            "receivers: {otlp: {protocols: {grpc: {}}}}\n\
             exporters: {file: {path: /tmp/x.jsonl}}\n\
             service: {pipelines: {logs: {receivers: [otlp], exporters: [file]}}}\n",
        );
        assert!(set.is_empty(), "{set:?}");
    }

    /// Scenario: an eBPF receiver named `ebpf/main` in two pipelines next to
    /// an OTLP receiver.
    /// Guarantees: exactly the eBPF receiver's documented set is kept.
    #[test]
    fn ebpf_needs_its_documented_set() {
        let set = needed_by(
            "receivers: {ebpf/main: {}, otlp: {protocols: {grpc: {}}}}\n\
             exporters: {file: {path: /tmp/x.jsonl}}\n\
             service: {pipelines: {logs: {receivers: [ebpf/main, otlp], exporters: [file]},\n\
                                   traces: {receivers: [ebpf/main], exporters: [file]}}}\n",
        );
        let expected: CapsHashSet = [
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_DAC_READ_SEARCH,
        ]
        .into_iter()
        .collect();
        assert_eq!(set, expected);
    }
}
