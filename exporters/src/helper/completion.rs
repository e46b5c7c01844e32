//! Completion notices for callers that wait for their records to be
//! exported (`sending_queue.enabled: false`). A batch may be merged with
//! others or split across several export calls; every part holds a clone of
//! the same [`Completion`], and the caller hears back once the last part is
//! settled: success, or the first failure any part met.

use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The outcome reported to a waiting caller: `Err` carries what went wrong.
pub(crate) type Outcome = Result<(), String>;

struct Inner {
    tx: Mutex<Option<oneshot::Sender<Outcome>>>,
    error: Mutex<Option<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let error = self.error.lock().ok().and_then(|mut e| e.take());
        let tx = self.tx.lock().ok().and_then(|mut t| t.take());
        if let Some(tx) = tx {
            // The caller may have stopped waiting; nothing to do then.
            let _ = tx.send(match error {
                Some(e) => Err(e),
                None => Ok(()),
            });
        }
    }
}

/// A shared handle on one caller's completion notice.
#[derive(Clone)]
pub(crate) struct Completion(Arc<Inner>);

impl Completion {
    /// A notice and the receiver the caller awaits.
    pub(crate) fn new() -> (Completion, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let inner = Inner {
            tx: Mutex::new(Some(tx)),
            error: Mutex::new(None),
        };
        (Completion(Arc::new(inner)), rx)
    }

    /// Marks the records behind this notice as failed (the first failure wins).
    pub(crate) fn fail(&self, message: &str) {
        if let Ok(mut e) = self.0.error.lock() {
            if e.is_none() {
                *e = Some(message.to_string());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: a batch split in two parts, the second fails.
    /// Guarantees: the caller hears once, after the last part, with the failure.
    #[tokio::test]
    async fn reports_after_last_part_with_first_failure() {
        let (c, mut rx) = Completion::new();
        let part = c.clone();
        drop(c);
        assert!(rx.try_recv().is_err(), "still pending while a part is held");
        part.fail("boom");
        part.fail("later");
        drop(part);
        assert_eq!(rx.await.unwrap(), Err("boom".to_string()));
    }

    /// Scenario: every part succeeds.
    /// Guarantees: the caller gets Ok.
    #[tokio::test]
    async fn reports_success() {
        let (c, rx) = Completion::new();
        drop(c);
        assert_eq!(rx.await.unwrap(), Ok(()));
    }
}
