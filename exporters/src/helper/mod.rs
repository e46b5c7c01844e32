//! The exporter helper: what sits between the pipelines and every exporter.
//!
//! [`start_exporter`] starts an [`Exporter`] (its start-up errors surface to
//! the caller before any pipeline runs) and returns a [`Consumer`] that
//! pipelines push into plus the handle of the task that drives the
//! exporter:
//!
//! - a bounded queue of batches (`sending_queue`): when full, the oldest
//!   batch is dropped and counted (`otelcol_exporter_queue_dropped_*`), or
//!   with `block_on_overflow: true` the pipeline waits; with
//!   `enabled: false` the pipeline waits for each export itself;
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
//! stops retrying; what is left is counted as failed.

mod backoff;
mod batcher;
mod completion;
pub(crate) mod log_limit;
mod metrics;
mod queue;
mod worker;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use completion::Completion;
use metrics::SignalMetrics;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{
    Batch, ComponentError, ConsumeError, Consumer, Exporter, ExporterSettings, Telemetry,
};
use queue::{Item, PushError, Queue};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts `exporter` behind the helper and returns the consumer pipelines
/// push into and the task's handle. The task ends once every clone of the
/// consumer is dropped and everything queued has been exported (or counted
/// as failed); `drain_deadline` cuts the drain short.
///
/// Fails when [`Exporter::start`] fails (a file that cannot be opened, a
/// port in use); nothing is spawned then.
pub async fn start_exporter(
    id: &str,
    mut exporter: Box<dyn Exporter>,
    settings: ExporterSettings,
    telemetry: Arc<Telemetry>,
    drain_deadline: CancellationToken,
) -> Result<(Arc<dyn Consumer>, JoinHandle<()>), ComponentError> {
    exporter.start().await?;
    let capacity = if settings.queue.enabled {
        settings.queue.queue_size.max(1)
    } else {
        1
    };
    let metrics = SignalMetrics::new(&telemetry, id, capacity);
    let health = telemetry.exporter_health(id);
    let queue = Arc::new(Queue::new(capacity, metrics.clone()));
    let mode = match (settings.queue.enabled, settings.queue.block_on_overflow) {
        (false, _) => Mode::WaitForExport,
        (true, true) => Mode::Block,
        (true, false) => Mode::DropOldest,
    };
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
        queue,
        drain_deadline,
    };
    let handle = tokio::spawn(worker.run());
    Ok((Arc::new(consumer), handle))
}

/// Problems with the helper's config sections, for an exporter's
/// `validate`: the retry values, a budget shorter than the intervals (as the
/// collector rejects), an empty queue.
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
    if queue.enabled && queue.queue_size == 0 {
        out.push("'sending_queue.queue_size' must be above 0".into());
    }
    out
}

/// How the consumer treats a push.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Never wait; evict the oldest batch when full.
    DropOldest,
    /// Wait for room when full.
    Block,
    /// Wait until the batch is exported (queue disabled).
    WaitForExport,
}

/// The pipelines' end of an exporter: pushes into its queue.
struct QueueConsumer {
    queue: Arc<Queue>,
    metrics: SignalMetrics,
    mode: Mode,
}

impl QueueConsumer {
    fn refused(&self, batch_signal: oispd_component::Signal, records: usize) -> ConsumeError {
        self.metrics
            .of(batch_signal)
            .enqueue_failed
            .inc_by(records as u64);
        ConsumeError::Closed
    }
}

#[async_trait]
impl Consumer for QueueConsumer {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let records = batch.record_count();
        if records == 0 {
            return Ok(());
        }
        let signal = batch.signal();
        match self.mode {
            Mode::DropOldest => self
                .queue
                .push_drop_oldest(Item {
                    batch,
                    completion: None,
                })
                .map_err(|PushError::WorkerGone| self.refused(signal, records)),
            Mode::Block => self
                .queue
                .push_wait(Item {
                    batch,
                    completion: None,
                })
                .await
                .map_err(|PushError::WorkerGone| self.refused(signal, records)),
            Mode::WaitForExport => {
                let (completion, done) = Completion::new();
                let item = Item {
                    batch,
                    completion: Some(completion),
                };
                if let Err(PushError::WorkerGone) = self.queue.push_wait(item).await {
                    return Err(self.refused(signal, records));
                }
                match done.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(message)) => Err(ConsumeError::Refused(message)),
                    Err(_) => Err(ConsumeError::Closed),
                }
            }
        }
    }
}

impl Drop for QueueConsumer {
    fn drop(&mut self) {
        self.queue.close();
    }
}
