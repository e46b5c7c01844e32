//! The fan-out from the exporter to the connected WebSocket clients.
//!
//! Each client has its own queue, bounded in messages (`client_buffer`).
//! The exporter never waits on it, so neither a slow client nor many
//! clients can make an export wait: a batch that would take a client with
//! messages still pending beyond its bound cuts that client off (its task
//! is cancelled, which also aborts a socket write stuck on a peer that
//! does not read); it is removed and counted
//! (`oispd_exporter_websocket_clients_dropped`). A client with nothing
//! pending always takes the next batch, however large, so a big batch alone
//! never disconnects a client that keeps up. Messages are shared
//! (`Utf8Bytes` is reference-counted and a batch is one `Arc`), so a
//! message costs one serialization whatever the number of clients.
//!
//! The hub also remembers the last `history` events, and a client that
//! connects gets them first (those its filter wants), so a page opened
//! after some AI calls shows them instead of an empty table. The history is
//! taken and the client registered under the clients' lock, which
//! `publish` holds too: no event is missed or sent twice in between.

use axum::extract::ws::Utf8Bytes;
use prometheus::IntCounter;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One event ready to go out.
#[derive(Clone)]
pub(crate) struct Outgoing {
    /// Its OISP `event_type` (for the `?event_type=` filter).
    pub(crate) event_type: String,
    /// Its JSON text.
    pub(crate) text: Utf8Bytes,
}

/// Messages of one batch for one client.
pub(crate) type Chunk = Arc<[Utf8Bytes]>;

struct Client {
    id: u64,
    /// Only events whose type starts with this prefix.
    filter: Option<String>,
    tx: mpsc::UnboundedSender<Chunk>,
    pending: Arc<AtomicUsize>,
    cut: CancellationToken,
}

/// A connected client's end: its queue and the token that cuts it off.
pub(crate) struct Subscription {
    /// Client id (for logs and `unsubscribe`).
    pub(crate) id: u64,
    /// Batches for this client.
    pub(crate) rx: mpsc::UnboundedReceiver<Chunk>,
    /// Messages queued and not yet written; the client task decrements it.
    pub(crate) pending: Arc<AtomicUsize>,
    /// Cancelled when the client is cut off or the exporter stops.
    pub(crate) cut: CancellationToken,
    /// Cancelled when the exporter stops.
    pub(crate) stopping: CancellationToken,
}

/// The clients of one `websocket` exporter.
pub(crate) struct Hub {
    exporter: String,
    buffer: usize,
    clients: Mutex<Vec<Client>>,
    /// The last events published, oldest first; locked after `clients`.
    history: Mutex<VecDeque<Outgoing>>,
    history_size: usize,
    next_id: AtomicU64,
    metrics: HubMetrics,
    stopped: CancellationToken,
}

/// The hub's counters.
#[derive(Clone)]
pub(crate) struct HubMetrics {
    /// Clients connected so far.
    pub(crate) connections: IntCounter,
    /// Clients cut off for being slow.
    pub(crate) dropped: IntCounter,
}

impl Hub {
    /// A hub whose clients each buffer `buffer` messages and get the last
    /// `history` events when they connect.
    pub(crate) fn new(exporter: String, buffer: usize, history: usize, metrics: HubMetrics) -> Hub {
        Hub {
            exporter,
            buffer: buffer.max(1),
            clients: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::with_capacity(history)),
            history_size: history,
            next_id: AtomicU64::new(1),
            metrics,
            stopped: CancellationToken::new(),
        }
    }

    /// Registers a client that wants events whose type starts with `filter`.
    pub(crate) fn subscribe(&self, filter: Option<String>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = self.stopped.child_token();
        let pending = Arc::new(AtomicUsize::new(0));
        self.metrics.connections.inc();
        let filter = filter.filter(|f| !f.is_empty());
        if let Ok(mut clients) = self.clients.lock() {
            let past: Chunk = match self.history.lock() {
                Ok(history) => history
                    .iter()
                    .filter(|m| wanted(&filter, m))
                    .map(|m| m.text.clone())
                    .collect(),
                Err(_) => Arc::new([]),
            };
            if !past.is_empty() {
                pending.fetch_add(past.len(), Ordering::AcqRel);
                let _ = tx.send(past);
            }
            clients.push(Client {
                id,
                filter,
                tx,
                pending: pending.clone(),
                cut: cut.clone(),
            });
        }
        Subscription {
            id,
            rx,
            pending,
            cut,
            stopping: self.stopped.clone(),
        }
    }

    /// Forgets a client that went away.
    pub(crate) fn unsubscribe(&self, id: u64) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.retain(|c| c.id != id);
        }
    }

    /// Whether published events are remembered for clients to come.
    pub(crate) fn keeps_history(&self) -> bool {
        self.history_size > 0
    }

    /// Connected clients.
    pub(crate) fn client_count(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Offers a batch to every client that wants some of it, without waiting.
    pub(crate) fn publish(&self, messages: &[Outgoing]) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        if self.history_size > 0 {
            if let Ok(mut history) = self.history.lock() {
                let keep = messages.len().min(self.history_size);
                while history.len() + keep > self.history_size {
                    history.pop_front();
                }
                history.extend(messages[messages.len() - keep..].iter().cloned());
            }
        }
        let all: Chunk = messages.iter().map(|m| m.text.clone()).collect();
        clients.retain(|c| {
            let chunk: Chunk = match &c.filter {
                None => all.clone(),
                Some(_) => messages
                    .iter()
                    .filter(|m| wanted(&c.filter, m))
                    .map(|m| m.text.clone())
                    .collect(),
            };
            if chunk.is_empty() {
                return true;
            }
            let pending = c.pending.load(Ordering::Acquire);
            if pending > 0 && pending + chunk.len() > self.buffer {
                c.cut.cancel();
                self.metrics.dropped.inc();
                tracing::warn!(
                    exporter = %self.exporter,
                    client = c.id,
                    pending,
                    client_buffer = self.buffer,
                    "websocket client too slow; disconnected"
                );
                return false;
            }
            c.pending.fetch_add(chunk.len(), Ordering::AcqRel);
            c.tx.send(chunk).is_ok()
        });
    }

    /// Disconnects every client (exporter shutdown).
    pub(crate) fn stop(&self) {
        self.stopped.cancel();
        if let Ok(mut clients) = self.clients.lock() {
            clients.clear();
        }
    }
}

/// Whether a client with `filter` (an event type prefix) wants `m`.
fn wanted(filter: &Option<String>, m: &Outgoing) -> bool {
    filter
        .as_deref()
        .is_none_or(|f| m.event_type.starts_with(f))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn msg(event_type: &str, text: &str) -> Outgoing {
        Outgoing {
            event_type: event_type.into(),
            text: Utf8Bytes::from(text.to_string()),
        }
    }

    /// What a client task does: takes the queued batches, writes them.
    fn drain(sub: &mut Subscription, out: &mut Vec<String>) {
        while let Ok(chunk) = sub.rx.try_recv() {
            for m in chunk.iter() {
                out.push(m.to_string());
                sub.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn counter() -> IntCounter {
        IntCounter::new("dropped", "x").unwrap()
    }

    fn metrics(dropped: &IntCounter) -> HubMetrics {
        HubMetrics {
            connections: IntCounter::new("connections", "x").unwrap(),
            dropped: dropped.clone(),
        }
    }

    /// Scenario: one client reads, one never reads, one filters.
    /// Guarantees: publishing never waits; the silent client is cut off
    /// and counted once its buffer is full; the others get every message
    /// they asked for, in order.
    #[test]
    fn slow_client_is_cut_off_others_keep_receiving() {
        let dropped = counter();
        let hub = Hub::new("websocket".into(), 4, 0, metrics(&dropped));
        let mut reader = hub.subscribe(None);
        let silent = hub.subscribe(None);
        let mut filtered = hub.subscribe(Some("ai.resp".into()));
        let mut got = Vec::new();
        let mut got_filtered = Vec::new();
        for i in 0..10 {
            let kind = if i % 2 == 0 {
                "ai.request"
            } else {
                "ai.response"
            };
            hub.publish(&[msg(kind, &i.to_string())]);
            drain(&mut reader, &mut got);
            drain(&mut filtered, &mut got_filtered);
        }
        let all: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(got, all);
        assert_eq!(got_filtered, vec!["1", "3", "5", "7", "9"]);
        assert!(silent.cut.is_cancelled());
        assert_eq!(dropped.get(), 1);
        assert_eq!(hub.client_count(), 2);
        assert!(!reader.cut.is_cancelled());
    }

    /// Scenario: 7 events published before anyone connects, with a history
    /// of 5; a client connects, then 1 more event; a filtered client
    /// connects after.
    /// Guarantees: the first gets the last 5 in order, then the new one,
    /// nothing twice; the filtered one gets only the past events it wants;
    /// a hub with no history sends nothing past.
    #[test]
    fn clients_get_the_recent_history_first() {
        let dropped = counter();
        let hub = Hub::new("websocket".into(), 16, 5, metrics(&dropped));
        let kind = |i: usize| {
            if i.is_multiple_of(2) {
                "ai.request"
            } else {
                "ai.response"
            }
        };
        let early: Vec<Outgoing> = (0..7).map(|i| msg(kind(i), &i.to_string())).collect();
        hub.publish(&early[..3]);
        hub.publish(&early[3..]);
        let mut sub = hub.subscribe(None);
        hub.publish(&[msg("ai.request", "7")]);
        let mut got = Vec::new();
        drain(&mut sub, &mut got);
        assert_eq!(got, ["2", "3", "4", "5", "6", "7"]);
        let mut filtered = hub.subscribe(Some("ai.resp".into()));
        let mut got = Vec::new();
        drain(&mut filtered, &mut got);
        assert_eq!(got, ["3", "5"]);
        let none = Hub::new("websocket".into(), 16, 0, metrics(&dropped));
        none.publish(&early);
        let mut sub = none.subscribe(None);
        let mut got = Vec::new();
        drain(&mut sub, &mut got);
        assert!(got.is_empty());
    }

    /// Scenario: a batch larger than the buffer reaches an idle client,
    /// then another while the first is still pending.
    /// Guarantees: the idle client takes the big batch; only falling behind
    /// by more than the buffer cuts it off.
    #[test]
    fn big_batch_alone_does_not_cut_an_idle_client() {
        let dropped = counter();
        let hub = Hub::new("websocket".into(), 4, 0, metrics(&dropped));
        let mut sub = hub.subscribe(None);
        let big: Vec<Outgoing> = (0..10).map(|i| msg("ai.request", &i.to_string())).collect();
        hub.publish(&big);
        assert!(!sub.cut.is_cancelled());
        let mut got = Vec::new();
        drain(&mut sub, &mut got);
        assert_eq!(got.len(), 10);
        hub.publish(&big);
        assert!(
            !sub.cut.is_cancelled(),
            "caught up, so the next big batch is fine"
        );
        hub.publish(&[msg("ai.request", "x")]);
        assert!(sub.cut.is_cancelled(), "10 pending + 1 > 4");
        assert_eq!(dropped.get(), 1);
    }

    /// Scenario: a client goes away, then the exporter stops.
    /// Guarantees: the gone client is forgotten without being counted as
    /// dropped; stop cuts every remaining client.
    #[test]
    fn gone_clients_are_forgotten_and_stop_cuts_everyone() {
        let dropped = counter();
        let hub = Hub::new("websocket".into(), 4, 0, metrics(&dropped));
        let gone = hub.subscribe(None);
        let stay = hub.subscribe(None);
        drop(gone.rx);
        hub.publish(&[msg("ai.request", "x")]);
        assert_eq!(hub.client_count(), 1);
        assert_eq!(dropped.get(), 0);
        hub.unsubscribe(gone.id);
        hub.stop();
        assert!(stay.cut.is_cancelled());
        assert_eq!(hub.client_count(), 0);
    }
}
