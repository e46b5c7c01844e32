//! The task that drives one exporter: takes batches off the queue, batches
//! them, and hands each ready batch to a send task that exports with a
//! per-attempt timeout, retries retryable failures with backoff, counts
//! every outcome and keeps the exporter's health current.
//!
//! Up to `sending_queue.num_consumers` send tasks run at once when the
//! exporter offers a concurrent sender ([`Exporter::concurrent_sender`]);
//! otherwise one at a time, in order. While every slot is taken the worker
//! takes nothing off the queue, so a full queue pushes back (or drops the
//! oldest) exactly as before. Requests complete in any order; each settles its
//! own batches' notices.
//!
//! When the producers are gone it drains the queue, flushes what the
//! batcher holds, waits for every send task, shuts the exporter down and
//! ends. The drain deadline token cuts
//! retries (and the in-flight attempt) short; what is left is counted as
//! failed, or, with a persistent queue, stays on disk for the next start.
//!
//! Every batch's completion notice is settled explicitly: succeeded when
//! exported, failed when dropped for good. A notice dropped unsettled
//! (deadline, panic) means "abandoned", which a persistent queue answers by
//! keeping the batch, so nothing is acknowledged that was not delivered.

use super::backoff::Backoff;
use super::batcher::{Batcher, Ready};
use super::completion::Completion;
use super::log_limit::{LogLimiter, WARN_INTERVAL};
use super::metrics::SignalMetrics;
use super::sending_queue::SendingQueue;
use oispd_component::sanitize;
use oispd_component::telemetry::ExporterHealth;
use oispd_component::{Batch, ConcurrentExport, ExportError, Exporter, ExporterSettings, Signal};
use prometheus::IntGauge;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Everything the worker task owns.
pub(crate) struct Worker {
    pub(crate) id: String,
    pub(crate) exporter: Box<dyn Exporter>,
    pub(crate) settings: ExporterSettings,
    pub(crate) metrics: SignalMetrics,
    pub(crate) health: Arc<ExporterHealth>,
    pub(crate) in_flight: IntGauge,
    pub(crate) queue: SendingQueue,
    pub(crate) drain_deadline: CancellationToken,
}

enum Event {
    Item(Option<super::queue::Item>),
    FlushDue,
}

/// Counts what is still queued if the worker ends early (a panic inside an
/// exporter), and releases producers waiting for room.
struct QueueGuard {
    queue: SendingQueue,
    metrics: SignalMetrics,
}

impl Drop for QueueGuard {
    fn drop(&mut self) {
        for item in self.queue.worker_gone() {
            let records = item.batch.record_count() as u64;
            self.metrics
                .of(item.batch.signal())
                .send_failed
                .inc_by(records);
            if let Some(c) = item.completion {
                c.fail("the exporter stopped");
            }
        }
    }
}

struct Logs {
    retry: LogLimiter,
    drop: LogLimiter,
    partial: LogLimiter,
}

/// Which limiter a warning goes through.
#[derive(Clone, Copy)]
enum LogKind {
    Retry,
    Drop,
    Partial,
}

/// How export calls reach the exporter.
enum Lane {
    /// Any number at once, through the exporter's concurrent sender.
    Concurrent(Arc<dyn ConcurrentExport>),
    /// One at a time through the exporter itself.
    Exclusive,
}

/// The send tasks in flight, at most `limit` at once.
struct InFlight {
    tasks: JoinSet<()>,
    limit: usize,
    id: String,
}

impl InFlight {
    /// Waits until fewer than `limit` send tasks are under way.
    async fn free_slot(&mut self) {
        while let Some(done) = self.tasks.try_join_next() {
            self.reaped(done);
        }
        while self.tasks.len() >= self.limit {
            match self.tasks.join_next().await {
                Some(done) => self.reaped(done),
                None => break,
            }
        }
    }

    /// Starts sending `ready`, first waiting for a free slot.
    async fn dispatch(&mut self, sender: &Arc<Sender>, ready: Ready) {
        self.free_slot().await;
        let sender = sender.clone();
        let counted = InFlightRequest::start(&sender.in_flight);
        self.tasks.spawn(async move {
            sender.send(ready).await;
            drop(counted);
        });
    }

    /// Waits for every send task.
    async fn finish(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            self.reaped(done);
        }
    }

    /// A send task ended. One that panicked dropped its batches' notices
    /// unsettled: a persistent queue keeps them, a waiting caller hears
    /// the exporter stopped.
    fn reaped(&self, done: Result<(), tokio::task::JoinError>) {
        if let Err(e) = done {
            tracing::error!(exporter = %self.id, error = %e, "export task failed; its batch was not settled");
        }
    }
}

/// One request counted in `otelcol_exporter_in_flight_requests` until it
/// ends, however it ends (done, aborted, panicked).
struct InFlightRequest(IntGauge);

impl InFlightRequest {
    fn start(gauge: &IntGauge) -> InFlightRequest {
        gauge.inc();
        InFlightRequest(gauge.clone())
    }
}

impl Drop for InFlightRequest {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Worker {
    /// Runs until the queue is closed and drained.
    pub(crate) async fn run(self) {
        let Worker {
            id,
            exporter,
            settings,
            metrics,
            health,
            in_flight: in_flight_gauge,
            queue,
            drain_deadline,
        } = self;
        let _guard = QueueGuard {
            queue: queue.clone(),
            metrics: metrics.clone(),
        };
        let (lane, limit) = match exporter.concurrent_sender() {
            Some(concurrent) => (
                Lane::Concurrent(concurrent),
                settings.queue.num_consumers.max(1),
            ),
            None => (Lane::Exclusive, 1),
        };
        let mut batcher = Batcher::new(settings.batch_size, settings.flush_interval);
        let timed_flush = !settings.flush_interval.is_zero();
        let sender = Arc::new(Sender {
            id: id.clone(),
            keeps_abandoned: queue.is_persistent(),
            exporter: tokio::sync::Mutex::new(exporter),
            lane,
            settings,
            metrics,
            health,
            in_flight: in_flight_gauge,
            drain_deadline,
            logs: Mutex::new(Logs {
                retry: LogLimiter::new(WARN_INTERVAL),
                drop: LogLimiter::new(WARN_INTERVAL),
                partial: LogLimiter::new(WARN_INTERVAL),
            }),
        });
        let mut in_flight = InFlight {
            tasks: JoinSet::new(),
            limit,
            id: id.clone(),
        };
        loop {
            // Take nothing off the queue while every slot is busy: what
            // waits stays in the queue, under its bound.
            in_flight.free_slot().await;
            let event = match batcher.deadline() {
                Some(at) if timed_flush => {
                    tokio::select! {
                        biased;
                        _ = tokio::time::sleep_until(at) => Event::FlushDue,
                        item = queue.pop() => Event::Item(item),
                    }
                }
                _ => Event::Item(queue.pop().await),
            };
            match event {
                Event::Item(Some(item)) => {
                    for ready in batcher.push(item, Instant::now()) {
                        in_flight.dispatch(&sender, ready).await;
                    }
                    // A zero interval never waits: whatever is pending goes
                    // out as soon as nothing more is queued right now.
                    if !timed_flush && batcher.has_pending() && queue.is_empty() {
                        for ready in batcher.flush_all() {
                            in_flight.dispatch(&sender, ready).await;
                        }
                    }
                }
                Event::Item(None) => break,
                Event::FlushDue => {
                    for ready in batcher.flush_due(Instant::now()) {
                        in_flight.dispatch(&sender, ready).await;
                    }
                }
            }
        }
        for ready in batcher.flush_all() {
            in_flight.dispatch(&sender, ready).await;
        }
        in_flight.finish().await;
        if let Err(e) = sender.exporter.lock().await.shutdown().await {
            tracing::warn!(exporter = %id, error = %e, "exporter shutdown failed");
        }
        tracing::debug!(exporter = %id, "exporter drained and stopped");
    }
}

/// How a batch is handed to the exporter for one attempt.
enum Attempt<'b> {
    /// The only attempt: the exporter takes the batch.
    Owned(Batch),
    /// The batch stays with the helper for a retry.
    Kept(&'b Batch),
}

/// The export path with its counters, shared by the send tasks.
struct Sender {
    id: String,
    /// Used directly on the exclusive lane, and for shutdown.
    exporter: tokio::sync::Mutex<Box<dyn Exporter>>,
    lane: Lane,
    settings: ExporterSettings,
    metrics: SignalMetrics,
    health: Arc<ExporterHealth>,
    /// `otelcol_exporter_in_flight_requests` of this exporter.
    in_flight: IntGauge,
    drain_deadline: CancellationToken,
    /// True with a persistent queue: batches not delivered by the deadline
    /// stay on disk instead of being counted as failed.
    keeps_abandoned: bool,
    logs: Mutex<Logs>,
}

impl Sender {
    /// `Some(suppressed)` when a warning of `kind` should be logged now.
    fn allow(&self, kind: LogKind) -> Option<u64> {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        match kind {
            LogKind::Retry => logs.retry.allow(),
            LogKind::Drop => logs.drop.allow(),
            LogKind::Partial => logs.partial.allow(),
        }
    }

    /// Exports one batch, retrying as configured, counts the outcome and
    /// settles the batch's completion notices.
    async fn send(&self, ready: Ready) {
        let Ready { batch, completions } = ready;
        let signal = batch.signal();
        let records = batch.record_count() as u64;
        if records == 0 {
            completions.into_iter().for_each(Completion::succeed);
            return;
        }
        let started = Instant::now();
        let mut backoff = Backoff::new(&self.settings.retry);
        // Without retries the batch is handed over; with retries it stays
        // here and the exporter reads it by reference.
        let (mut owned, kept) = if self.settings.retry.enabled {
            (None, Some(batch))
        } else {
            (Some(batch), None)
        };
        loop {
            if self.drain_deadline.is_cancelled() {
                let msg = "shutdown deadline passed before the batch was exported";
                self.stop(signal, records, completions, msg);
                return;
            }
            let outcome = match (owned.take(), kept.as_ref()) {
                (Some(batch), _) => self.attempt(Attempt::Owned(batch)).await,
                (None, Some(batch)) => self.attempt(Attempt::Kept(batch)).await,
                (None, None) => Err(ExportError::permanent(
                    "internal: the batch was handed over and cannot be retried",
                )),
            };
            let error = match outcome {
                Ok(()) => {
                    self.metrics.of(signal).sent.inc_by(records);
                    self.health.record_success(records);
                    completions.into_iter().for_each(Completion::succeed);
                    return;
                }
                Err(_) if self.drain_deadline.is_cancelled() => {
                    let msg = "shutdown deadline passed during the export";
                    self.stop(signal, records, completions, msg);
                    return;
                }
                Err(e) => sanitized(e),
            };
            match error {
                ExportError::Partial { rejected, message } => {
                    let rejected = rejected.min(records);
                    let accepted = records - rejected;
                    self.metrics.of(signal).sent.inc_by(accepted);
                    self.metrics.of(signal).send_failed.inc_by(rejected);
                    self.health.record_success(accepted);
                    // The batch is settled: what was rejected is counted
                    // and never retried.
                    completions.into_iter().for_each(Completion::succeed);
                    if let Some(suppressed) = self.allow(LogKind::Partial) {
                        tracing::warn!(
                            exporter = %self.id,
                            signal = %signal,
                            rejected,
                            accepted,
                            suppressed,
                            error = %message,
                            "destination rejected part of a batch (partial success); rejected records are dropped"
                        );
                    }
                    return;
                }
                ExportError::Permanent { message } => {
                    self.health.record_failure(&message);
                    self.give_up(signal, records, completions, &message);
                    return;
                }
                ExportError::Retryable {
                    message,
                    retry_after,
                } => {
                    self.health.record_failure(&message);
                    if !self.settings.retry.enabled {
                        self.give_up(signal, records, completions, &message);
                        return;
                    }
                    let Some(delay) = backoff.next_delay(started.elapsed(), retry_after) else {
                        let msg = format!(
                            "{message} (gave up after {})",
                            humantime_short(started.elapsed())
                        );
                        self.give_up(signal, records, completions, &msg);
                        return;
                    };
                    if let Some(suppressed) = self.allow(LogKind::Retry) {
                        tracing::warn!(
                            exporter = %self.id,
                            signal = %signal,
                            records,
                            suppressed,
                            retry_in = %humantime_short(delay),
                            error = %message,
                            "export failed; will retry"
                        );
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.drain_deadline.cancelled() => {
                            let msg = format!("{message} (shutdown deadline passed while retrying)");
                            self.stop(signal, records, completions, &msg);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// One export call under the per-attempt timeout, cut short by the
    /// drain deadline.
    async fn attempt(&self, batch: Attempt<'_>) -> Result<(), ExportError> {
        let timeout = self.settings.timeout;
        let export = async {
            match (&self.lane, batch) {
                (Lane::Concurrent(sender), Attempt::Owned(batch)) => {
                    sender.export_ref(&batch).await
                }
                (Lane::Concurrent(sender), Attempt::Kept(batch)) => sender.export_ref(batch).await,
                (Lane::Exclusive, Attempt::Owned(batch)) => {
                    self.exporter.lock().await.export(batch).await
                }
                (Lane::Exclusive, Attempt::Kept(batch)) => {
                    self.exporter.lock().await.export_ref(batch).await
                }
            }
        };
        let timed = async {
            if timeout.is_zero() {
                return export.await;
            }
            match tokio::time::timeout(timeout, export).await {
                Ok(result) => result,
                Err(_) => Err(ExportError::retryable(format!(
                    "export timed out after {}",
                    humantime_short(timeout)
                ))),
            }
        };
        tokio::select! {
            result = timed => result,
            _ = self.drain_deadline.cancelled() => Err(ExportError::permanent(
                "shutdown deadline passed during the export",
            )),
        }
    }

    /// Drops the batch for good: counts it, settles its notices as failed
    /// (a persistent queue then removes it), logs (rate-limited).
    fn give_up(&self, signal: Signal, records: u64, completions: Vec<Completion>, message: &str) {
        self.metrics.of(signal).send_failed.inc_by(records);
        for c in completions {
            c.fail(message);
        }
        if let Some(suppressed) = self.allow(LogKind::Drop) {
            tracing::error!(
                exporter = %self.id,
                signal = %signal,
                records,
                suppressed,
                error = %message,
                "export failed for good; batch dropped"
            );
        }
    }

    /// The drain deadline passed before the batch was delivered. A
    /// persistent queue keeps it for the next start (its notices are left
    /// unsettled, which abandons them); otherwise it is dropped and counted.
    fn stop(&self, signal: Signal, records: u64, completions: Vec<Completion>, message: &str) {
        if !self.keeps_abandoned {
            self.give_up(signal, records, completions, message);
            return;
        }
        drop(completions);
        tracing::info!(
            exporter = %self.id,
            signal = %signal,
            records,
            reason = %message,
            "batch not delivered before shutdown; kept in the persistent queue for the next start"
        );
    }
}

/// `e` with every URL in its message shown as [`sanitize::text`] shows it
/// (no passwords, no query tokens), before the message reaches a log
/// line, the exporter's health or a completion notice.
fn sanitized(e: ExportError) -> ExportError {
    let clean = |m: String| match sanitize::text(&m) {
        std::borrow::Cow::Borrowed(_) => m,
        std::borrow::Cow::Owned(clean) => clean,
    };
    match e {
        ExportError::Retryable {
            message,
            retry_after,
        } => ExportError::Retryable {
            message: clean(message),
            retry_after,
        },
        ExportError::Permanent { message } => ExportError::Permanent {
            message: clean(message),
        },
        ExportError::Partial { rejected, message } => ExportError::Partial {
            rejected,
            message: clean(message),
        },
    }
}

/// `1.5s`, `250ms`: a duration for log messages.
fn humantime_short(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}
