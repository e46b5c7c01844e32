//! Least privilege: the Linux capabilities a component needs (each with the
//! reason), the start-up check that names the ones missing, and dropping
//! every other capability once the service is started.
//!
//! Reading and changing capability sets goes through the `caps` crate
//! rather than hand-written `capget`/`capset`/`prctl` calls.

use caps::{CapSet, Capability, CapsHashSet};

/// One capability a component needs, and what for (shown to the user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequiredCapability {
    /// The capability.
    pub capability: Capability,
    /// What the component does with it, in a few words.
    pub needed_for: &'static str,
}

/// The capabilities of `required` that `effective` lacks.
pub fn missing<'a>(
    required: &'a [RequiredCapability],
    effective: &CapsHashSet,
) -> Vec<&'a RequiredCapability> {
    required
        .iter()
        .filter(|r| !effective.contains(&r.capability))
        .collect()
}

/// `CAP_X (what for), CAP_Y (what for)`: the missing ones in one phrase.
pub fn describe(missing: &[&RequiredCapability]) -> String {
    missing
        .iter()
        .map(|r| format!("{} ({})", r.capability, r.needed_for))
        .collect::<Vec<_>>()
        .join(", ")
}

/// This process's effective capabilities.
pub fn effective() -> Result<CapsHashSet, PrivilegeError> {
    caps::read(None, CapSet::Effective).map_err(|e| PrivilegeError {
        step: "reading the effective capabilities",
        detail: e.to_string(),
    })
}

/// A capability set could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct PrivilegeError {
    /// What was being done.
    pub step: &'static str,
    /// The error `caps` returned.
    pub detail: String,
}

/// What [`keep_only`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Capabilities that were permitted before and no longer are.
    pub permitted: Vec<Capability>,
    /// Capabilities removed from the bounding set (none when the process
    /// lacked `CAP_SETPCAP`, as an unprivileged user does; its bounding set
    /// is then whatever its parent, e.g. systemd's `CapabilityBoundingSet`,
    /// left it).
    pub bounding: Vec<Capability>,
}

/// Drops every capability not in `keep` from this process (all threads
/// created afterwards inherit the result): first from the bounding set
/// while `CAP_SETPCAP` still allows it, then the ambient and inheritable
/// sets entirely (oispd starts no program that would inherit them), then
/// the effective and permitted sets. Capabilities in `keep` that the
/// process does not hold stay absent: nothing is ever raised.
///
/// Threads that already exist keep their own sets: call this before the
/// async runtime starts its workers, or from every thread.
pub fn keep_only(keep: &CapsHashSet) -> Result<Dropped, PrivilegeError> {
    let read = |set: CapSet, step: &'static str| {
        caps::read(None, set).map_err(|e| PrivilegeError {
            step,
            detail: e.to_string(),
        })
    };
    let permitted = read(CapSet::Permitted, "reading the permitted capabilities")?;
    let effective = read(CapSet::Effective, "reading the effective capabilities")?;
    let bounding = read(CapSet::Bounding, "reading the bounding set")?;

    let mut dropped = Dropped::default();
    if effective.contains(&Capability::CAP_SETPCAP) {
        let mut in_bounding: Vec<Capability> = bounding.difference(keep).copied().collect();
        in_bounding.sort_by_key(|c| c.index());
        for cap in in_bounding {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| PrivilegeError {
                step: "dropping from the bounding set",
                detail: format!("{cap}: {e}"),
            })?;
            dropped.bounding.push(cap);
        }
    }
    for (set, step) in [
        (CapSet::Ambient, "clearing the ambient set"),
        (CapSet::Inheritable, "clearing the inheritable set"),
    ] {
        caps::clear(None, set).map_err(|e| PrivilegeError {
            step,
            detail: e.to_string(),
        })?;
    }
    let kept: CapsHashSet = permitted.intersection(keep).copied().collect();
    // The effective set must stay within the permitted one at each step.
    for (set, step) in [
        (CapSet::Effective, "setting the effective set"),
        (CapSet::Permitted, "setting the permitted set"),
    ] {
        let current = read(set, "reading a capability set")?;
        let target: CapsHashSet = current.intersection(&kept).copied().collect();
        caps::set(None, set, &target).map_err(|e| PrivilegeError {
            step,
            detail: e.to_string(),
        })?;
    }
    dropped.permitted = permitted.difference(&kept).copied().collect();
    dropped.permitted.sort_by_key(|c| c.index());
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDS: [RequiredCapability; 2] = [
        RequiredCapability {
            capability: Capability::CAP_BPF,
            needed_for: "loading programs",
        },
        RequiredCapability {
            capability: Capability::CAP_SYS_PTRACE,
            needed_for: "reading other processes' maps",
        },
    ];

    /// Scenario: an effective set holding one of two required capabilities.
    /// Guarantees: only the other is reported, with its reason.
    #[test]
    fn the_missing_capability_is_named_with_its_reason() {
        let effective: CapsHashSet = [Capability::CAP_BPF, Capability::CAP_NET_ADMIN]
            .into_iter()
            .collect();
        let missing = missing(&NEEDS, &effective);
        assert_eq!(missing, vec![&NEEDS[1]]);
        assert_eq!(
            describe(&missing),
            "CAP_SYS_PTRACE (reading other processes' maps)"
        );
    }

    /// Scenario: a thread of its own (capability sets are per thread) keeps
    /// only CAP_SYS_PTRACE of whatever it holds (everything as root,
    /// nothing as an unprivileged user).
    /// Guarantees: its permitted and effective sets end within the kept
    /// one, nothing inheritable or ambient is left, and a thread that could
    /// (CAP_SETPCAP) has dropped the rest from its bounding set too.
    #[test]
    fn keep_only_leaves_nothing_else_in_any_set() {
        let (before, after) = std::thread::spawn(|| {
            let before = caps::read(None, CapSet::Effective).unwrap();
            let keep: CapsHashSet = [Capability::CAP_SYS_PTRACE].into_iter().collect();
            let dropped = keep_only(&keep).unwrap();
            let read = |set| caps::read(None, set).unwrap();
            let after = [
                read(CapSet::Permitted),
                read(CapSet::Effective),
                read(CapSet::Inheritable),
                read(CapSet::Ambient),
                read(CapSet::Bounding),
            ];
            assert!(!dropped.permitted.contains(&Capability::CAP_SYS_PTRACE));
            (before, after)
        })
        .join()
        .unwrap();
        let [permitted, effective, inheritable, ambient, bounding] = after;
        assert!(permitted.iter().all(|c| *c == Capability::CAP_SYS_PTRACE));
        assert!(effective.iter().all(|c| *c == Capability::CAP_SYS_PTRACE));
        assert!(inheritable.is_empty() && ambient.is_empty());
        if before.contains(&Capability::CAP_SETPCAP) {
            assert_eq!(
                bounding.into_iter().collect::<Vec<_>>(),
                vec![Capability::CAP_SYS_PTRACE]
            );
            assert!(effective.contains(&Capability::CAP_SYS_PTRACE));
        }
    }

    /// Scenario: nothing required (an OTLP-only pipeline), nothing held.
    /// Guarantees: nothing is missing.
    #[test]
    fn nothing_required_is_never_missing() {
        assert!(missing(&[], &CapsHashSet::new()).is_empty());
    }
}
