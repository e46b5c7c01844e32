//! The bounded sending queue in front of an exporter, counted in the unit
//! of `sending_queue.sizer`: batches, records or encoded bytes.
//!
//! Written here rather than taken from a channel crate because the overflow
//! policy is the product: when full, a batch nobody can resend (capture)
//! drops the *oldest* batch and counts its records
//! (`otelcol_exporter_queue_dropped_*`), so a stalled destination keeps the
//! newest data; a batch whose sender waits for the answer is refused
//! instead ([`Queue::push_if_room`]), so the sender retries later;
//! `block_on_overflow` makes the producer wait (back-pressure to the
//! pipeline). Channels offer neither drop-oldest nor a way to evict from
//! the sender side.
//!
//! One consumer (the exporter's worker task) pops; any number of producers
//! push. The producer side closes when [`Queue::close`] is called (the
//! consumer handle is dropped), after which the worker drains what is left.

use super::completion::Completion;
use super::metrics::SignalMetrics;
use oispd_component::exporter::QueueSizer;
use oispd_component::Batch;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// One queued batch and, when the producer waits for the export, its notice.
pub(crate) struct Item {
    /// The records.
    pub(crate) batch: Batch,
    /// Settled when the records are exported or dropped.
    pub(crate) completion: Option<Completion>,
}

/// Why a push failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The worker is gone; nothing will be exported any more.
    WorkerGone,
    /// The queue is full and the batch was refused.
    Full,
}

struct State {
    /// Each batch with its size in the sizer's unit.
    items: VecDeque<(Item, u64)>,
    /// The sum of the sizes queued.
    used: u64,
    producers_closed: bool,
    worker_gone: bool,
}

impl State {
    /// True when a batch of `size` may join: it fits, or the queue is empty
    /// (a single batch larger than the capacity still goes through alone,
    /// rather than never).
    fn has_room(&self, size: u64, capacity: u64) -> bool {
        self.items.is_empty() || self.used.saturating_add(size) <= capacity
    }
}

/// A bounded multi-producer, single-consumer queue of batches.
pub(crate) struct Queue {
    state: Mutex<State>,
    capacity: u64,
    sizer: QueueSizer,
    not_empty: Notify,
    not_full: Notify,
    metrics: SignalMetrics,
}

impl Queue {
    /// An empty queue holding at most `capacity` (at least one) in the unit
    /// `sizer` counts.
    pub(crate) fn new(capacity: u64, sizer: QueueSizer, metrics: SignalMetrics) -> Queue {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                used: 0,
                producers_closed: false,
                worker_gone: false,
            }),
            capacity: capacity.max(1),
            sizer,
            not_empty: Notify::new(),
            not_full: Notify::new(),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the deque invalid, so
        // a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the gauges by one batch of `size` in (`sign` 1) or out (-1).
    fn gauge_add(&self, batch: &Batch, size: u64, sign: i64) {
        let records = i64::try_from(batch.record_count()).unwrap_or(i64::MAX);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.metrics.queue_moved(
            batch.signal(),
            sign.saturating_mul(size),
            sign.saturating_mul(records),
        );
    }

    fn enqueue(&self, state: &mut State, item: Item, size: u64) {
        self.gauge_add(&item.batch, size, 1);
        state.used = state.used.saturating_add(size);
        state.items.push_back((item, size));
    }

    fn dequeue(&self, state: &mut State) -> Option<Item> {
        let (item, size) = state.items.pop_front()?;
        state.used = state.used.saturating_sub(size);
        self.gauge_add(&item.batch, size, -1);
        Some(item)
    }

    /// Adds `item`; when full, evicts the oldest batches until it fits and
    /// counts their records as dropped. Never waits.
    pub(crate) fn push_drop_oldest(&self, item: Item) -> Result<(), PushError> {
        let size = self.sizer.size_of(&item.batch);
        let evicted = {
            let mut state = self.lock();
            if state.worker_gone {
                return Err(PushError::WorkerGone);
            }
            let mut evicted = Vec::new();
            while !state.has_room(size, self.capacity) {
                match self.dequeue(&mut state) {
                    Some(old) => evicted.push(old),
                    None => break,
                }
            }
            self.enqueue(&mut state, item, size);
            evicted
        };
        for old in evicted {
            let records = old.batch.record_count() as u64;
            self.metrics.of(old.batch.signal()).dropped.inc_by(records);
            if let Some(c) = old.completion {
                c.fail("dropped from the full sending queue");
            }
        }
        self.not_empty.notify_one();
        Ok(())
    }

    /// Adds `item` if it fits (or the queue is empty); refuses it when the
    /// queue is full. Never evicts, never waits.
    pub(crate) fn push_if_room(&self, item: Item) -> Result<(), PushError> {
        let size = self.sizer.size_of(&item.batch);
        {
            let mut state = self.lock();
            if state.worker_gone {
                return Err(PushError::WorkerGone);
            }
            if !state.has_room(size, self.capacity) {
                return Err(PushError::Full);
            }
            self.enqueue(&mut state, item, size);
        }
        self.not_empty.notify_one();
        Ok(())
    }

    /// Adds `item`, waiting for room while the queue is full.
    pub(crate) async fn push_wait(&self, item: Item) -> Result<(), PushError> {
        let size = self.sizer.size_of(&item.batch);
        let mut item = Some(item);
        loop {
            let notified = self.not_full.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.worker_gone {
                    return Err(PushError::WorkerGone);
                }
                if state.has_room(size, self.capacity) {
                    if let Some(item) = item.take() {
                        self.enqueue(&mut state, item, size);
                    }
                    drop(state);
                    self.not_empty.notify_one();
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// Takes the oldest batch, waiting while the queue is empty. `None` once
    /// the producers are closed and everything queued has been taken.
    pub(crate) async fn pop(&self) -> Option<Item> {
        loop {
            let notified = self.not_empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(next) = self.try_pop() {
                return next;
            }
            notified.await;
        }
    }

    /// Takes the oldest batch without waiting: `Some(Some(item))`, or
    /// `Some(None)` when closed and drained, or `None` when merely empty.
    pub(crate) fn try_pop(&self) -> Option<Option<Item>> {
        let mut state = self.lock();
        match self.dequeue(&mut state) {
            Some(item) => {
                drop(state);
                // Sizes differ: every waiting producer checks whether it
                // fits now.
                self.not_full.notify_waiters();
                Some(Some(item))
            }
            None if state.producers_closed => Some(None),
            None => None,
        }
    }

    /// True when no batch is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// No more pushes will come; the worker drains and ends.
    pub(crate) fn close(&self) {
        self.lock().producers_closed = true;
        self.not_empty.notify_one();
    }

    /// The worker ended: waiting producers fail instead of hanging. Returns
    /// what was still queued so the caller can count it.
    pub(crate) fn worker_gone(&self) -> Vec<Item> {
        let left: Vec<Item> = {
            let mut state = self.lock();
            state.worker_gone = true;
            std::iter::from_fn(|| self.dequeue(&mut state)).collect()
        };
        self.not_full.notify_waiters();
        left
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::helper::testing::logs;
    use oispd_component::{Signal, Telemetry};
    use std::sync::Arc;
    use std::time::Duration;

    fn queue(cap: u64) -> (Arc<Queue>, Arc<Telemetry>) {
        sized(cap, QueueSizer::Requests)
    }

    fn sized(cap: u64, sizer: QueueSizer) -> (Arc<Queue>, Arc<Telemetry>) {
        let t = Arc::new(Telemetry::new().unwrap());
        let q = Queue::new(cap, sizer, SignalMetrics::new(&t, "q", cap));
        (Arc::new(q), t)
    }

    fn item(n: usize) -> Item {
        Item {
            batch: logs(n),
            completion: None,
        }
    }

    /// Scenario: a queue of 2 batches receives 3 without a consumer.
    /// Guarantees: the oldest is evicted, its records counted as dropped, the
    /// newest two remain in order, and the size gauge says 2.
    #[tokio::test]
    async fn drop_oldest_evicts_and_counts() {
        let (q, t) = queue(2);
        q.push_drop_oldest(item(1)).unwrap();
        q.push_drop_oldest(item(2)).unwrap();
        q.push_drop_oldest(item(3)).unwrap();
        let m = t.exporter("q", Signal::Logs);
        assert_eq!(m.dropped.get(), 1);
        assert_eq!(m.queue_size.get(), 2);
        assert_eq!(m.queue_records.get(), 5);
        assert_eq!(m.queue_capacity.get(), 2);
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 2);
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 3);
        assert_eq!(m.queue_size.get(), 0);
    }

    /// Scenario: a queue of 5 records (`sizer: items`) gets batches of 2,
    /// 2 and 3 records, then one of 9 (larger than the whole queue).
    /// Guarantees: eviction frees room by records, not batches: the 3 evicts
    /// the oldest 2; the 9 evicts everything and is kept alone; the gauges
    /// count records.
    #[tokio::test]
    async fn items_sizer_evicts_by_records() {
        let (q, t) = sized(5, QueueSizer::Items);
        q.push_drop_oldest(item(2)).unwrap();
        q.push_drop_oldest(item(2)).unwrap();
        q.push_drop_oldest(item(3)).unwrap();
        let m = t.exporter("q", Signal::Logs);
        assert_eq!(m.dropped.get(), 2);
        assert_eq!(m.queue_size.get(), 5);
        q.push_drop_oldest(item(9)).unwrap();
        assert_eq!(m.dropped.get(), 7);
        assert_eq!(m.queue_size.get(), 9);
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 9);
        assert_eq!(m.queue_size.get(), 0);
    }

    /// Scenario: `sizer: bytes` with room for about two batches, and a
    /// blocking producer. Guarantees: the third batch waits until a pop frees
    /// enough bytes; the gauge counts bytes.
    #[tokio::test(start_paused = true)]
    async fn bytes_sizer_blocks_until_enough_bytes_are_free() {
        let one = logs(10).encoded_len() as u64;
        let (q, t) = sized(2 * one + 1, QueueSizer::Bytes);
        q.push_wait(item(10)).await.unwrap();
        q.push_wait(item(10)).await.unwrap();
        assert_eq!(
            t.exporter("q", Signal::Logs).queue_size.get() as u64,
            2 * one
        );
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { q2.push_wait(item(10)).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!pusher.is_finished(), "no room for a third batch");
        assert!(q.pop().await.is_some());
        pusher.await.unwrap().unwrap();
        assert_eq!(
            t.exporter("q", Signal::Logs).queue_size.get() as u64,
            2 * one
        );
    }

    /// Scenario: a queue of 2 batches; a third is offered with
    /// `push_if_room`, then again after the consumer took one.
    /// Guarantees: the full queue refuses it and keeps its batches (nothing
    /// dropped); once there is room it is taken.
    #[tokio::test]
    async fn push_if_room_refuses_when_full_and_evicts_nothing() {
        let (q, t) = queue(2);
        q.push_if_room(item(1)).unwrap();
        q.push_if_room(item(2)).unwrap();
        assert_eq!(q.push_if_room(item(3)), Err(PushError::Full));
        let m = t.exporter("q", Signal::Logs);
        assert_eq!((m.dropped.get(), m.queue_size.get()), (0, 2));
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 1);
        q.push_if_room(item(3)).unwrap();
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 2);
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 3);
    }

    /// Scenario: a blocking producer pushes into a full queue.
    /// Guarantees: it waits until the consumer takes a batch, then succeeds.
    #[tokio::test(start_paused = true)]
    async fn push_wait_blocks_until_room() {
        let (q, _t) = queue(1);
        q.push_wait(item(1)).await.unwrap();
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { q2.push_wait(item(2)).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!pusher.is_finished(), "producer must wait while full");
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 1);
        pusher.await.unwrap().unwrap();
        assert_eq!(q.pop().await.unwrap().batch.record_count(), 2);
    }

    /// Scenario: producers close with batches still queued.
    /// Guarantees: the consumer still gets every batch, then `None`.
    #[tokio::test]
    async fn close_drains_then_ends() {
        let (q, _t) = queue(4);
        q.push_drop_oldest(item(1)).unwrap();
        q.close();
        assert!(q.pop().await.is_some());
        assert!(q.pop().await.is_none());
    }

    /// Scenario: the worker is gone while a producer waits for room.
    /// Guarantees: the producer fails instead of hanging, and later pushes fail.
    #[tokio::test]
    async fn worker_gone_releases_waiting_producers() {
        let (q, _t) = queue(1);
        q.push_wait(item(1)).await.unwrap();
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { q2.push_wait(item(2)).await });
        tokio::task::yield_now().await;
        let left = q.worker_gone();
        assert_eq!(left.len(), 1);
        assert_eq!(pusher.await.unwrap(), Err(PushError::WorkerGone));
        assert_eq!(q.push_drop_oldest(item(1)), Err(PushError::WorkerGone));
    }
}
