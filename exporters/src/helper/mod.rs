//! The exporter helper: what sits between the pipelines and every exporter.
//!
//! [`start_exporter`] starts an [`Exporter`] (its start-up errors surface to
//! the caller before any pipeline runs) and returns a [`Consumer`] that
//! pipelines push into plus the handle of the task that drives the
//! exporter:
//!
//! - a bounded queue of batches (`sending_queue`, sized in batches, records
//!   or bytes by `sizer`; by default 16 MiB of encoded records): when full,
//!   a batch whose sender waits for the answer (OTLP) is refused and
//!   counted (`otelcol_exporter_enqueue_failed_*`), so the sender retries
//!   later; any other makes room by dropping the oldest batches, counted
//!   (`otelcol_exporter_queue_dropped_*`); with `block_on_overflow: true`
//!   the pipeline waits instead; with
//!   `enabled: false` the pipeline waits for each export itself. With
//!   `storage: DIR` the queue is persistent ([`persistent`]): batches are
//!   on disk before `consume` returns, bounded by `max_storage_bytes`, and
//!   delivered at least once across restarts and crashes;
//! - batching (`batch_size` records or `flush_interval`, whichever first);
//! - a per-attempt `timeout`, retry of retryable failures with exponential
//!   backoff and jitter honouring the peer's requested delay
//!   (`retry_on_failure`);
//! - counters per signal (`otelcol_exporter_sent_*`, `send_failed_*`,
//!   `enqueue_failed_*`, queue size and capacity) and the exporter's health
//!   for `/api/health` (each attempt's success or failure).
//!
//! Shutdown is ownership-driven: when the last clone of the consumer is
//! dropped, the task drains the queue, flushes the batcher, calls
//! [`Exporter::shutdown`] and ends. Cancelling the drain deadline token
//! stops retrying; what is left is counted as failed (a persistent queue
//! keeps it for the next start instead).
//!
//! `retry_on_failure.max_elapsed_time: 0` retries a batch until it is
//! delivered, which is what a persistent queue usually wants: the queue,
//! not the retry budget, then decides what is dropped.

mod backoff;
mod batcher;
mod completion;
pub(crate) mod log_limit;
mod metrics;
pub(crate) mod persistent;
mod queue;
mod sending_queue;
mod worker;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use completion::Completion;
use metrics::SignalMetrics;
use oispd_component::exporter::{QueueSettings, QueueSizer, RetrySettings};
use oispd_component::{
    Ack, Batch, ComponentError, ConsumeError, Consumer, Exporter, ExporterSettings, Signal,
    Telemetry,
};
use persistent::{Overflow, PersistentQueue};
use queue::{Item, PushError, Queue};
use sending_queue::SendingQueue;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts `exporter` behind the helper and returns the consumer pipelines
/// push into and the task's handle. The task ends once every clone of the
/// consumer is dropped and everything queued has been exported (or counted
/// as failed, or kept by a persistent queue); `drain_deadline` cuts the
/// drain short.
///
/// With `sending_queue.storage` set, the exporter's persistent queue is
/// opened first (`<storage>/<id, escaped>`), and what a previous run left
/// there is delivered again.
///
/// Fails when the persistent queue cannot be opened (not writable, in use
/// by another process) or when [`Exporter::start`] fails (a file that cannot
/// be opened, a port in use); nothing is spawned then.
pub async fn start_exporter(
    id: &str,
    mut exporter: Box<dyn Exporter>,
    settings: ExporterSettings,
    telemetry: Arc<Telemetry>,
    drain_deadline: CancellationToken,
) -> Result<(Arc<dyn Consumer>, JoinHandle<()>), ComponentError> {
    let storage = match (&settings.queue.storage, settings.queue.enabled) {
        (Some(dir), true) => Some(dir.clone()),
        _ => None,
    };
    let mode = match (settings.queue.enabled, settings.queue.block_on_overflow) {
        (false, _) => Mode::WaitForExport,
        (true, true) => Mode::Block,
        (true, false) => Mode::DropOldest,
    };
    // Without a queue, one batch waits for its export.
    let (queue_size, sizer) = match mode {
        Mode::WaitForExport => (1, QueueSizer::Requests),
        Mode::Block | Mode::DropOldest => {
            let (size, sizer) = settings.queue.bound();
            (size.max(1), sizer)
        }
    };
    let limit = settings.queue.max_storage_bytes.max(1);
    // Capacity in the unit that bounds the queue: bytes on disk, the
    // sizer's unit in memory.
    let capacity = match storage {
        Some(_) => limit,
        None => queue_size,
    };
    let metrics = SignalMetrics::new(&telemetry, id, capacity);
    let queue = match storage {
        Some(root) => {
            let (owned_id, queue_metrics) = (id.to_string(), metrics.clone());
            let opened = tokio::task::spawn_blocking(move || {
                PersistentQueue::open(&root, &owned_id, limit, queue_metrics)
            })
            .await
            .map_err(|e| ComponentError::Environment(e.to_string()))?
            .map_err(|e| ComponentError::Environment(e.to_string()))?;
            SendingQueue::Persistent(Arc::new(opened))
        }
        None => SendingQueue::Memory(Arc::new(Queue::new(queue_size, sizer, metrics.clone()))),
    };
    // A failed start drops the queue, which releases a persistent one.
    exporter.start().await?;
    let health = telemetry.exporter_health(id);
    let consumer = QueueConsumer {
        queue: queue.clone(),
        metrics: metrics.clone(),
        mode,
    };
    let worker = worker::Worker {
        id: id.to_string(),
        exporter,
        settings,
        metrics,
        health,
        in_flight: telemetry.exporter_in_flight(id),
        queue,
        drain_deadline,
    };
    let handle = tokio::spawn(worker.run());
    Ok((Arc::new(consumer), handle))
}

/// Problems with the helper's config sections, for an exporter's
/// `validate`: the retry values, a budget shorter than the intervals (as the
/// collector rejects), the queue's values ([`QueueSettings::problems`]).
pub fn settings_problems(retry: &RetrySettings, queue: &QueueSettings) -> Vec<String> {
    let mut out = retry.problems();
    let max = retry.max_elapsed_time;
    if retry.enabled && !max.is_zero() && (max < retry.initial_interval || max < retry.max_interval)
    {
        out.push(
            "'retry_on_failure.max_elapsed_time' must be 0 or at least initial_interval and max_interval"
                .into(),
        );
    }
    out.extend(queue.problems());
    out
}

/// What a refused sender is told when the queue is full (the collector's
/// words).
const QUEUE_FULL: &str = "sending queue is full";

/// How the consumer treats a push.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Never wait; evict the oldest batch (or, on disk, the oldest batches)
    /// when full.
    DropOldest,
    /// Wait for room when full.
    Block,
    /// Wait until the batch is exported (queue disabled, always in memory).
    WaitForExport,
}

/// The pipelines' end of an exporter: pushes into its queue.
struct QueueConsumer {
    queue: SendingQueue,
    metrics: SignalMetrics,
    mode: Mode,
}

impl QueueConsumer {
    fn refused(&self, signal: Signal, records: usize, error: ConsumeError) -> ConsumeError {
        self.metrics
            .of(signal)
            .enqueue_failed
            .inc_by(records as u64);
        error
    }

    /// Queues `batch` in memory. When the queue is full and the consumer
    /// does not block, a batch whose `sender_waits` (and can send it again)
    /// is refused; any other makes room by evicting the oldest.
    async fn push_memory(
        &self,
        q: &Queue,
        batch: Batch,
        sender_waits: bool,
    ) -> Result<(), ConsumeError> {
        let signal = batch.signal();
        let records = batch.record_count();
        let gone = |e: PushError| {
            let error = match e {
                PushError::WorkerGone => ConsumeError::Closed,
                PushError::Full => ConsumeError::Refused(QUEUE_FULL.to_string()),
            };
            self.refused(signal, records, error)
        };
        let item = |completion| Item { batch, completion };
        match self.mode {
            Mode::DropOldest if sender_waits => q.push_if_room(item(None)).map_err(gone),
            Mode::DropOldest => q.push_drop_oldest(item(None)).map_err(gone),
            Mode::Block => q.push_wait(item(None)).await.map_err(gone),
            Mode::WaitForExport => {
                let (completion, done) = Completion::waiter();
                q.push_wait(item(Some(completion))).await.map_err(gone)?;
                match done.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(message)) => Err(ConsumeError::Refused(message)),
                    Err(_) => Err(ConsumeError::Closed),
                }
            }
        }
    }
}

impl QueueConsumer {
    /// Takes `batch` into the queue; `sender_waits` when a receiver holds
    /// its sender's answer until the queue has it.
    async fn take(&self, batch: Batch, sender_waits: bool) -> Result<(), ConsumeError> {
        let records = batch.record_count();
        if records == 0 {
            return Ok(());
        }
        let signal = batch.signal();
        match &self.queue {
            SendingQueue::Memory(q) => self.push_memory(q, batch, sender_waits).await,
            SendingQueue::Persistent(q) => {
                let overflow = match self.mode {
                    Mode::Block => Overflow::Wait,
                    _ if sender_waits => Overflow::Refuse,
                    _ => Overflow::EvictOldest,
                };
                q.push(batch, overflow).await.map_err(|e| {
                    let error = match e {
                        persistent::PushError::WorkerGone => ConsumeError::Closed,
                        other => ConsumeError::Refused(other.to_string()),
                    };
                    self.refused(signal, records, error)
                })
            }
        }
    }
}

#[async_trait]
impl Consumer for QueueConsumer {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.take(batch, false).await
    }

    /// A receiver waits on this batch (OTLP): when the in-memory queue is
    /// full it is refused rather than evicting older batches, so the sender
    /// hears UNAVAILABLE / 503 and retries later, as with the collector.
    async fn consume_acked(&self, batch: Batch, _ack: &Ack) -> Result<(), ConsumeError> {
        self.take(batch, true).await
    }
}

impl Drop for QueueConsumer {
    fn drop(&mut self) {
        self.queue.close();
    }
}
