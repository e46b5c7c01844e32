//! Completion notices: a queued batch can carry one, and hears how its
//! records ended. Two kinds listen: a caller that waits for its records to
//! be exported (`sending_queue.enabled: false`), and the persistent queue,
//! which removes a batch from disk only once it is settled.
//!
//! A batch may be merged with others or split across several export calls;
//! every part holds a clone of the same [`Completion`] and settles it with
//! [`Completion::succeed`] or [`Completion::fail`]. The notice fires once
//! the last clone is gone: [`Settled::Exported`] if every part succeeded,
//! [`Settled::Failed`] with the first failure if any part failed for good,
//! and [`Settled::Abandoned`] if any part was dropped without being settled
//! (the shutdown deadline passed, the exporter task panicked): nothing is
//! acknowledged that the worker did not settle explicitly.

use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The outcome reported to a waiting caller: `Err` carries what went wrong.
pub(crate) type Outcome = Result<(), String>;

/// How the records behind a notice ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Every part was exported (or accepted in part, the rest counted).
    Exported,
    /// A part failed for good (already counted); the first message.
    Failed(String),
    /// A part was given up without an outcome (shutdown, a panic).
    Abandoned,
}

type Listener = Box<dyn FnOnce(Settled) + Send>;

#[derive(Default)]
struct State {
    listener: Option<Listener>,
    failure: Option<String>,
    abandoned: bool,
}

struct Inner {
    state: Mutex<State>,
}

impl Inner {
    fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = std::mem::take(self.state.get_mut().unwrap_or_else(|p| p.into_inner()));
        if let Some(listener) = state.listener {
            listener(match (state.abandoned, state.failure) {
                (true, _) => Settled::Abandoned,
                (false, Some(message)) => Settled::Failed(message),
                (false, None) => Settled::Exported,
            });
        }
    }
}

/// A handle on one batch's completion notice; see the module doc.
pub(crate) struct Completion {
    inner: Arc<Inner>,
    settled: bool,
}

impl Completion {
    /// A notice that calls `listener` once, when the last part is gone.
    pub(crate) fn new(listener: impl FnOnce(Settled) + Send + 'static) -> Completion {
        let state = State {
            listener: Some(Box::new(listener)),
            ..State::default()
        };
        Completion {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
            }),
            settled: false,
        }
    }

    /// A notice for a caller that awaits the outcome.
    pub(crate) fn waiter() -> (Completion, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let completion = Completion::new(move |settled| {
            // The caller may have stopped waiting; nothing to do then.
            let _ = tx.send(match settled {
                Settled::Exported => Ok(()),
                Settled::Failed(message) => Err(message),
                Settled::Abandoned => {
                    Err("the exporter stopped before the records were exported".into())
                }
            });
        });
        (completion, rx)
    }

    /// This part's records were exported.
    pub(crate) fn succeed(mut self) {
        self.settled = true;
    }

    /// This part's records failed for good (the first failure wins).
    pub(crate) fn fail(mut self, message: &str) {
        self.inner.with(|s| {
            if s.failure.is_none() {
                s.failure = Some(message.to_string());
            }
        });
        self.settled = true;
    }
}

impl Clone for Completion {
    /// Another part of the same batch, not yet settled.
    fn clone(&self) -> Completion {
        Completion {
            inner: self.inner.clone(),
            settled: false,
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.settled {
            self.inner.with(|s| s.abandoned = true);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn recorder() -> (Completion, Arc<Mutex<Vec<Settled>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let c = Completion::new(move |settled| s.lock().unwrap().push(settled));
        (c, seen)
    }

    /// Scenario: a batch split in two parts, the second fails.
    /// Guarantees: the caller hears once, after the last part, with the failure.
    #[tokio::test]
    async fn reports_after_last_part_with_first_failure() {
        let (c, mut rx) = Completion::waiter();
        let part = c.clone();
        c.succeed();
        assert!(rx.try_recv().is_err(), "still pending while a part is held");
        let other = part.clone();
        part.fail("boom");
        other.fail("later");
        assert_eq!(rx.await.unwrap(), Err("boom".to_string()));
    }

    /// Scenario: every part succeeds.
    /// Guarantees: the caller gets Ok, the listener hears Exported once.
    #[tokio::test]
    async fn reports_success() {
        let (c, rx) = Completion::waiter();
        c.succeed();
        assert_eq!(rx.await.unwrap(), Ok(()));
        let (c, seen) = recorder();
        let part = c.clone();
        c.succeed();
        part.succeed();
        assert_eq!(*seen.lock().unwrap(), vec![Settled::Exported]);
    }

    /// Scenario: one part succeeds, the other is dropped unsettled (the
    /// worker gave up at shutdown or panicked).
    /// Guarantees: the notice says Abandoned, even with a failure recorded,
    /// so the persistent queue keeps the batch; a waiting caller gets an error.
    #[tokio::test]
    async fn unsettled_part_abandons() {
        let (c, seen) = recorder();
        let part = c.clone();
        let third = c.clone();
        c.succeed();
        third.fail("x");
        drop(part);
        assert_eq!(*seen.lock().unwrap(), vec![Settled::Abandoned]);
        let (c, rx) = Completion::waiter();
        drop(c);
        assert!(rx.await.unwrap().unwrap_err().contains("stopped"));
    }
}
