//! Linking tool calls to their results across requests of one process: the
//! model asks for a call in a response, the agent runs the tool and sends
//! the result in a later request. Chat APIs are stateless, so every later
//! request repeats all earlier results; a result is reported once, for a
//! call this decoder saw and has not yet matched.

use std::collections::{HashMap, VecDeque};

/// A tool call waiting for its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingCall {
    /// Call id (the provider's, or one oispd made up for APIs without ids).
    pub call_id: String,
    /// Tool name.
    pub name: Option<String>,
    /// Event id of the `agent.tool_call`.
    pub event_id: String,
    /// When the call was seen (monotonic ns).
    pub ts: u64,
}

/// Pending tool calls per process.
#[derive(Debug, Default)]
pub(crate) struct ToolTracker {
    by_pid: HashMap<u32, VecDeque<PendingCall>>,
    max_per_pid: usize,
}

impl ToolTracker {
    /// A tracker remembering at most `max_per_pid` calls per process (the
    /// oldest are forgotten first).
    pub(crate) fn new(max_per_pid: usize) -> ToolTracker {
        ToolTracker {
            by_pid: HashMap::new(),
            max_per_pid: max_per_pid.max(1),
        }
    }

    /// Remembers a call.
    pub(crate) fn record(&mut self, pid: u32, call: PendingCall) {
        let q = self.by_pid.entry(pid).or_default();
        if q.len() >= self.max_per_pid {
            q.pop_front();
        }
        q.push_back(call);
    }

    /// Takes the call a result answers: by id when the result has one,
    /// otherwise the oldest pending call of that tool name.
    pub(crate) fn take(
        &mut self,
        pid: u32,
        call_id: Option<&str>,
        name: Option<&str>,
    ) -> Option<PendingCall> {
        let q = self.by_pid.get_mut(&pid)?;
        let pos = match (call_id, name) {
            (Some(id), _) => q.iter().position(|c| c.call_id == id),
            (None, Some(n)) => q.iter().position(|c| c.name.as_deref() == Some(n)),
            (None, None) => None,
        }?;
        let call = q.remove(pos);
        if q.is_empty() {
            self.by_pid.remove(&pid);
        }
        call
    }

    /// Forgets a process.
    pub(crate) fn forget(&mut self, pid: u32) {
        self.by_pid.remove(&pid);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn call(id: &str, name: &str) -> PendingCall {
        PendingCall {
            call_id: id.into(),
            name: Some(name.into()),
            event_id: format!("ev-{id}"),
            ts: 1,
        }
    }

    #[test]
    fn matches_once_by_id_or_name() {
        let mut t = ToolTracker::new(2);
        t.record(1, call("a", "f"));
        t.record(1, call("b", "g"));
        assert!(t.take(2, Some("a"), None).is_none());
        assert_eq!(t.take(1, Some("a"), None).unwrap().call_id, "a");
        assert!(t.take(1, Some("a"), None).is_none());
        assert_eq!(t.take(1, None, Some("g")).unwrap().call_id, "b");
        t.record(1, call("c", "f"));
        t.record(1, call("d", "f"));
        t.record(1, call("e", "f"));
        assert!(
            t.take(1, Some("c"), None).is_none(),
            "oldest forgotten at the cap"
        );
    }
}
