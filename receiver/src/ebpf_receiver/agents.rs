//! Which processes are AI agents, and the activity held back until a
//! process turns out to be one.
//!
//! A process becomes an agent when one of its AI calls is decoded; its
//! descendants are agents too: children forked afterwards inherit the mark,
//! and a process whose ancestor (through the fork and exec records seen)
//! is an agent is one. With `activity: agents`, a process's activity
//! arrives before its first AI call is decoded (the exec, the connect to
//! the provider), so activity of processes not (yet) known as agents is
//! held for `agent_lookback` and released, in order, when the process
//! becomes an agent; it is discarded when the process exits first or the
//! lookback passes. The hold is bounded in events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use oispd_semconv::OispEvent;

/// Events held at most across all processes; the oldest go first.
const MAX_HELD: usize = 8192;
/// Parent links kept at most (exits remove theirs).
const MAX_PARENTS: usize = 65_536;
/// Ancestors looked at when deciding whether a process descends from an agent.
const MAX_DEPTH: usize = 64;

/// Agent marks, parent links and held activity.
#[derive(Debug)]
pub(crate) struct Agents {
    agents: HashSet<u32>,
    parents: HashMap<u32, u32>,
    held: VecDeque<(u32, u64, OispEvent)>,
    held_per_pid: HashMap<u32, usize>,
    lookback_ns: u64,
    newly_marked: Vec<u32>,
}

impl Agents {
    /// No agents yet; activity is held for `lookback`.
    pub(crate) fn new(lookback: Duration) -> Agents {
        Agents {
            agents: HashSet::new(),
            parents: HashMap::new(),
            held: VecDeque::new(),
            held_per_pid: HashMap::new(),
            lookback_ns: u64::try_from(lookback.as_nanos()).unwrap_or(u64::MAX),
            newly_marked: Vec::new(),
        }
    }

    /// Whether `pid` is an agent or descends from one (which makes it one).
    pub(crate) fn is_agent(&mut self, pid: u32) -> bool {
        if self.agents.contains(&pid) {
            return true;
        }
        let mut at = pid;
        for _ in 0..MAX_DEPTH {
            match self.parents.get(&at) {
                Some(&parent) if parent != at && parent != 0 => {
                    if self.agents.contains(&parent) {
                        self.agents.insert(pid);
                        self.newly_marked.push(pid);
                        return true;
                    }
                    at = parent;
                }
                _ => break,
            }
        }
        false
    }

    /// `pid` made an AI call. Returns its held activity (oldest first)
    /// when it was not an agent before.
    pub(crate) fn mark(&mut self, pid: u32) -> Vec<OispEvent> {
        if !self.agents.insert(pid) {
            return Vec::new();
        }
        self.newly_marked.push(pid);
        self.release(pid)
    }

    /// Processes that became agents since the last call (for the kernel's
    /// per-process trace flag).
    pub(crate) fn take_newly_marked(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.newly_marked)
    }

    /// `parent` forked `child`: the child of an agent is an agent.
    pub(crate) fn fork(&mut self, parent: u32, child: u32) {
        self.link(child, parent);
        if self.is_agent(parent) && self.agents.insert(child) {
            self.newly_marked.push(child);
        }
    }

    /// `pid` execed with parent `ppid`.
    pub(crate) fn exec(&mut self, pid: u32, ppid: u32) {
        if ppid != 0 {
            self.link(pid, ppid);
        }
    }

    /// `pid` exited: its mark, its parent link and its held activity go.
    pub(crate) fn exit(&mut self, pid: u32) {
        self.agents.remove(&pid);
        self.parents.remove(&pid);
        self.release(pid);
    }

    /// Holds `event` of `pid` (not an agent) captured at `ts_mono`.
    pub(crate) fn hold(&mut self, pid: u32, ts_mono: u64, event: OispEvent) {
        self.expire(ts_mono);
        if self.held.len() >= MAX_HELD {
            self.pop_oldest();
        }
        self.held.push_back((pid, ts_mono, event));
        *self.held_per_pid.entry(pid).or_default() += 1;
    }

    /// Drops held activity older than the lookback at monotonic time `now`.
    pub(crate) fn expire(&mut self, now: u64) {
        while self
            .held
            .front()
            .is_some_and(|(_, ts, _)| now.saturating_sub(*ts) > self.lookback_ns)
        {
            self.pop_oldest();
        }
    }

    /// Events held now.
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    fn link(&mut self, child: u32, parent: u32) {
        if self.parents.len() >= MAX_PARENTS && !self.parents.contains_key(&child) {
            self.parents.clear();
        }
        self.parents.insert(child, parent);
    }

    fn pop_oldest(&mut self) {
        if let Some((pid, _, _)) = self.held.pop_front() {
            self.uncount(pid, 1);
        }
    }

    fn uncount(&mut self, pid: u32, n: usize) {
        if let Some(c) = self.held_per_pid.get_mut(&pid) {
            *c = c.saturating_sub(n);
            if *c == 0 {
                self.held_per_pid.remove(&pid);
            }
        }
    }

    /// Takes the held events of `pid`, in order.
    fn release(&mut self, pid: u32) -> Vec<OispEvent> {
        if !self.held_per_pid.contains_key(&pid) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut kept = VecDeque::with_capacity(self.held.len());
        for (p, ts, ev) in self.held.drain(..) {
            if p == pid {
                out.push(ev);
            } else {
                kept.push_back((p, ts, ev));
            }
        }
        self.held = kept;
        self.held_per_pid.remove(&pid);
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_semconv::process::ProcessFork;
    use oispd_semconv::{
        CaptureMethod, Completeness, Confidence, ConfidenceLevel, EventData, Source,
    };

    fn ev(child: u32) -> OispEvent {
        OispEvent::new(
            EventData::ProcessFork(ProcessFork {
                child_pid: child,
                ..Default::default()
            }),
            Source::oispd(CaptureMethod::EbpfTracepoint, "test"),
            Confidence::new(ConfidenceLevel::High, Completeness::Full),
        )
    }

    fn child_of(e: &OispEvent) -> u32 {
        match &e.data {
            Some(EventData::ProcessFork(f)) => f.child_pid,
            _ => panic!("not a fork"),
        }
    }

    /// Scenario: activity of two processes is held; one of them makes an AI call.
    /// Guarantees: its events come out in order, once; the other's stay held.
    #[test]
    fn marking_releases_held_activity_in_order() {
        let mut a = Agents::new(Duration::from_secs(60));
        a.hold(10, 1, ev(1));
        a.hold(20, 2, ev(2));
        a.hold(10, 3, ev(3));
        assert!(!a.is_agent(10));
        let out: Vec<u32> = a.mark(10).iter().map(child_of).collect();
        assert_eq!(out, vec![1, 3]);
        assert!(a.is_agent(10));
        assert!(a.mark(10).is_empty());
        assert_eq!(a.held(), 1);
        assert_eq!(a.take_newly_marked(), vec![10]);
    }

    /// Scenario: children forked after and before the parent became an agent, and a grandchild.
    /// Guarantees: all are agents; an unrelated process is not.
    #[test]
    fn descendants_are_agents() {
        let mut a = Agents::new(Duration::from_secs(60));
        a.fork(100, 101); // before the mark
        a.exec(102, 101); // grandchild seen by its exec
        a.mark(100);
        a.fork(100, 103); // after the mark
        assert!(a.is_agent(103));
        assert!(a.is_agent(101));
        assert!(a.is_agent(102));
        assert!(!a.is_agent(200));
        let mut marked = a.take_newly_marked();
        marked.sort_unstable();
        assert_eq!(marked, vec![100, 101, 102, 103]);
        a.exit(103);
        a.exit(100);
        assert!(!a.is_agent(100));
    }

    /// Scenario: held events older than the lookback; a process that exits unmarked; the cap.
    /// Guarantees: expired and exited activity is discarded; the hold never exceeds its cap.
    #[test]
    fn held_activity_is_bounded() {
        let mut a = Agents::new(Duration::from_nanos(100));
        a.hold(1, 0, ev(1));
        a.hold(2, 50, ev(2));
        a.hold(3, 150, ev(3));
        assert_eq!(a.held(), 2, "the event at 0 expired at 150");
        a.exit(2);
        assert_eq!(a.held(), 1);
        assert!(a.mark(2).is_empty());
        let mut b = Agents::new(Duration::from_secs(3600));
        for i in 0..(MAX_HELD as u64 + 10) {
            b.hold(7, i, ev(i as u32));
        }
        assert_eq!(b.held(), MAX_HELD);
        let out = b.mark(7);
        assert_eq!(out.len(), MAX_HELD);
        assert_eq!(child_of(&out[0]), 10);
    }
}
