//! Behaviour of the exporter helper end to end, with a scripted exporter and
//! tokio's paused clock (virtual time; nothing here depends on wall time).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::testing::{logs, spans, Fake};
use super::*;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::telemetry::HealthStatus;
use oispd_component::{ExportError, Signal};
use std::time::Duration;
use tokio::sync::Semaphore;

fn settings() -> ExporterSettings {
    ExporterSettings {
        queue: QueueSettings {
            enabled: true,
            queue_size: Some(10),
            block_on_overflow: false,
            ..QueueSettings::default()
        },
        retry: RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            max_elapsed_time: Duration::from_secs(60),
            multiplier: 2.0,
            randomization_factor: 0.0,
        },
        batch_size: 0,
        flush_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    }
}

struct Harness {
    consumer: Arc<dyn Consumer>,
    handle: JoinHandle<()>,
    telemetry: Arc<Telemetry>,
    deadline: CancellationToken,
}

async fn start(fake: &Fake, settings: ExporterSettings) -> Harness {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let deadline = CancellationToken::new();
    let (consumer, handle) = start_exporter(
        "fake",
        Box::new(fake.clone()),
        settings,
        telemetry.clone(),
        deadline.clone(),
    )
    .await
    .unwrap();
    Harness {
        consumer,
        handle,
        telemetry,
        deadline,
    }
}

impl Harness {
    fn metric(&self, signal: Signal) -> oispd_component::telemetry::ExporterMetrics {
        self.telemetry.exporter("fake", signal)
    }

    async fn finish(self) -> Arc<Telemetry> {
        drop(self.consumer);
        self.handle.await.unwrap();
        self.telemetry
    }
}

fn retryable(after: Option<Duration>) -> Result<(), ExportError> {
    Err(ExportError::Retryable {
        message: "unavailable".into(),
        retry_after: after,
    })
}

/// Scenario: the destination fails twice with a retryable error, then accepts.
/// Guarantees: the batch is retried after ~1s then ~2s (backoff, virtual
/// time), delivered once, counted as sent and never as failed; health
/// recovers to ok.
#[tokio::test(start_paused = true)]
async fn retries_then_succeeds() {
    let fake = Fake::scripted(vec![retryable(None), retryable(None)]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(3)).await.unwrap();
    let t = h.finish().await;
    let calls = fake.with(|s| s.calls.clone());
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].1 - calls[0].1, Duration::from_secs(1));
    assert_eq!(calls[2].1 - calls[1].1, Duration::from_secs(2));
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![3]);
    let m = t.exporter("fake", Signal::Logs);
    assert_eq!(m.sent.get(), 3);
    assert_eq!(m.send_failed.get(), 0);
    let health = &t.health_snapshot()["fake"];
    assert_eq!(health.status, HealthStatus::Ok);
    assert_eq!(health.events_exported, 3);
}

/// Scenario: one batch with retries enabled, one with retries disabled.
/// Guarantees: with retries the exporter reads the kept batch by reference
/// (no copy); without, it gets the batch itself.
#[tokio::test(start_paused = true)]
async fn hands_over_by_reference_only_when_retrying() {
    let fake = Fake::scripted(vec![retryable(None)]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(1)).await.unwrap();
    h.finish().await;
    assert_eq!(fake.with(|s| (s.calls.len(), s.by_ref)), (2, 2));
    let fake = Fake::default();
    let mut s = settings();
    s.retry.enabled = false;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(1)).await.unwrap();
    h.finish().await;
    assert_eq!(fake.with(|s| (s.calls.len(), s.by_ref)), (1, 0));
}

/// Scenario: the peer asks for a 7s delay (Retry-After / RetryInfo).
/// Guarantees: the next attempt waits at least that long.
#[tokio::test(start_paused = true)]
async fn honours_requested_retry_delay() {
    let fake = Fake::scripted(vec![retryable(Some(Duration::from_secs(7)))]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(1)).await.unwrap();
    h.finish().await;
    let calls = fake.with(|s| s.calls.clone());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].1 - calls[0].1, Duration::from_secs(7));
}

/// Scenario: a permanent error.
/// Guarantees: no retry; records counted as send_failed; health degraded
/// with the error message.
#[tokio::test(start_paused = true)]
async fn permanent_error_drops_without_retry() {
    let fake = Fake::scripted(vec![Err(ExportError::permanent("HTTP 400: bad data"))]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(spans(4)).await.unwrap();
    let t = h.finish().await;
    assert_eq!(fake.with(|s| s.calls.len()), 1);
    let m = t.exporter("fake", Signal::Traces);
    assert_eq!(m.send_failed.get(), 4);
    assert_eq!(m.sent.get(), 0);
    let health = &t.health_snapshot()["fake"];
    assert_eq!(health.status, HealthStatus::Degraded);
    assert_eq!(health.last_error.as_deref(), Some("HTTP 400: bad data"));
}

/// Scenario: retryable failures past max_elapsed_time.
/// Guarantees: the helper gives up within the budget and counts the batch
/// as failed.
#[tokio::test(start_paused = true)]
async fn gives_up_after_max_elapsed_time() {
    let fake = Fake::scripted((0..100).map(|_| retryable(None)).collect());
    let mut s = settings();
    s.retry.max_elapsed_time = Duration::from_secs(10);
    let h = start(&fake, s).await;
    h.consumer.consume(logs(2)).await.unwrap();
    let t = h.finish().await;
    let calls = fake.with(|s| s.calls.clone());
    // Waits of 1, 2, 4 fit in 10s; the next 4 would end at 11s.
    assert_eq!(calls.len(), 4);
    assert_eq!(t.exporter("fake", Signal::Logs).send_failed.get(), 2);
}

/// Scenario: retry_on_failure disabled and a retryable error.
/// Guarantees: one attempt only, batch counted as failed.
#[tokio::test(start_paused = true)]
async fn retry_disabled_drops_on_first_failure() {
    let fake = Fake::scripted(vec![retryable(None)]);
    let mut s = settings();
    s.retry.enabled = false;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(2)).await.unwrap();
    let t = h.finish().await;
    assert_eq!(fake.with(|s| s.calls.len()), 1);
    assert_eq!(t.exporter("fake", Signal::Logs).send_failed.get(), 2);
}

/// Scenario: the destination accepts 7 of 10 records (partial success).
/// Guarantees: 7 counted as sent, 3 as failed, no retry.
#[tokio::test(start_paused = true)]
async fn partial_success_counts_rejected() {
    let fake = Fake::scripted(vec![Err(ExportError::Partial {
        rejected: 3,
        message: "3 records too large".into(),
    })]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(10)).await.unwrap();
    let t = h.finish().await;
    assert_eq!(fake.with(|s| s.calls.len()), 1);
    let m = t.exporter("fake", Signal::Logs);
    assert_eq!(m.sent.get(), 7);
    assert_eq!(m.send_failed.get(), 3);
}

/// Scenario: an export hangs longer than `timeout` and retries are off.
/// Guarantees: the attempt is abandoned at the timeout and counted failed.
#[tokio::test(start_paused = true)]
async fn attempt_times_out() {
    let fake = Fake::gated(Arc::new(Semaphore::new(0)));
    let mut s = settings();
    s.retry.enabled = false;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(1)).await.unwrap();
    let t = h.finish().await;
    assert_eq!(t.exporter("fake", Signal::Logs).send_failed.get(), 1);
    let health = &t.health_snapshot()["fake"];
    assert_eq!(
        health.last_error.as_deref(),
        Some("export timed out after 5.0s")
    );
}

/// Scenario: the exporter is stuck on the first batch while 14 more batches
/// arrive at a queue of 10 (drop-oldest policy).
/// Guarantees: consume never waits; the 4 oldest queued batches are dropped
/// and counted; the newest 10 are exported after the destination recovers.
#[tokio::test(start_paused = true)]
async fn full_queue_drops_oldest_and_counts() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake::gated(gate.clone());
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(1)).await.unwrap();
    // Let the worker take the first batch and block in export.
    tokio::time::sleep(Duration::from_millis(1)).await;
    for i in 0..14 {
        h.consumer.consume(logs(10 + i)).await.unwrap();
    }
    let m = h.metric(Signal::Logs);
    // Dropped: batches of 10, 11, 12, 13 records.
    assert_eq!(m.dropped.get(), 10 + 11 + 12 + 13);
    assert_eq!(m.queue_size.get(), 10);
    gate.add_permits(100);
    let t = h.finish().await;
    let delivered = fake.with(|s| s.delivered.clone());
    assert_eq!(delivered, vec![1, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    assert_eq!(t.exporter("fake", Signal::Logs).queue_size.get(), 0);
}

/// Scenario: block_on_overflow with a stuck exporter and a queue of 2.
/// Guarantees: the producer waits (back-pressure) instead of dropping, and
/// continues once the exporter drains; nothing is dropped.
#[tokio::test(start_paused = true)]
async fn blocking_mode_applies_back_pressure() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake::gated(gate.clone());
    let mut s = settings();
    s.queue.queue_size = Some(2);
    s.queue.block_on_overflow = true;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    h.consumer.consume(logs(1)).await.unwrap();
    h.consumer.consume(logs(1)).await.unwrap();
    let consumer = h.consumer.clone();
    let blocked = tokio::spawn(async move { consumer.consume(logs(1)).await });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        !blocked.is_finished(),
        "producer must wait while the queue is full"
    );
    gate.add_permits(100);
    blocked.await.unwrap().unwrap();
    let t = h.finish().await;
    assert_eq!(fake.with(|s| s.delivered.len()), 4);
    assert_eq!(t.exporter("fake", Signal::Logs).dropped.get(), 0);
}

/// Scenario: sending_queue disabled and a permanent failure.
/// Guarantees: consume returns only after the export, and reports the failure.
#[tokio::test(start_paused = true)]
async fn queue_disabled_waits_for_the_export() {
    let fake = Fake::scripted(vec![Ok(()), Err(ExportError::permanent("rejected"))]);
    let mut s = settings();
    s.queue.enabled = false;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(2)).await.unwrap();
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![2]);
    let err = h.consumer.consume(logs(1)).await.unwrap_err();
    assert!(matches!(err, ConsumeError::Refused(m) if m == "rejected"));
    h.finish().await;
}

/// Scenario: batch_size 5 with a 1s flush interval; 3 + 4 records arrive
/// together, then 2 more alone.
/// Guarantees: a full batch of 5 goes out at once; the 2 left go out at
/// the 1s deadline; the lone 2 go out 1s after they arrived.
#[tokio::test(start_paused = true)]
async fn batches_by_size_and_interval() {
    let fake = Fake::default();
    let mut s = settings();
    s.batch_size = 5;
    s.flush_interval = Duration::from_secs(1);
    let h = start(&fake, s).await;
    let t0 = tokio::time::Instant::now();
    h.consumer.consume(logs(3)).await.unwrap();
    h.consumer.consume(logs(4)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    h.consumer.consume(logs(2)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls = fake.with(|s| s.calls.clone());
    let seen: Vec<(usize, Duration)> = calls.iter().map(|(n, at)| (*n, *at - t0)).collect();
    assert_eq!(
        seen,
        vec![
            (5, Duration::ZERO),
            (2, Duration::from_secs(1)),
            (2, Duration::from_secs(6)),
        ]
    );
    h.finish().await;
}

/// Scenario: batch_size 4 with a zero flush interval.
/// Guarantees: a large batch is split into exports of at most 4; records
/// never wait for a timer.
#[tokio::test(start_paused = true)]
async fn zero_interval_splits_without_waiting() {
    let fake = Fake::default();
    let mut s = settings();
    s.batch_size = 4;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(10)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![4, 4, 2]);
    h.finish().await;
}

/// Scenario: logs and traces from two pipelines through one exporter.
/// Guarantees: each signal is counted under its own metric.
#[tokio::test(start_paused = true)]
async fn counts_per_signal() {
    let fake = Fake::default();
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(2)).await.unwrap();
    h.consumer.consume(spans(5)).await.unwrap();
    let t = h.finish().await;
    assert_eq!(t.exporter("fake", Signal::Logs).sent.get(), 2);
    assert_eq!(t.exporter("fake", Signal::Traces).sent.get(), 5);
}

/// Scenario: the consumer is dropped with batches queued behind a slow
/// export and pending in the batcher.
/// Guarantees: the task exports all of them, then calls shutdown, then ends.
#[tokio::test(start_paused = true)]
async fn drains_everything_on_shutdown() {
    let fake = Fake::scripted(vec![retryable(None)]);
    let mut s = settings();
    s.batch_size = 100;
    s.flush_interval = Duration::from_secs(3600);
    let h = start(&fake, s).await;
    for _ in 0..5 {
        h.consumer.consume(logs(30)).await.unwrap();
    }
    let t = h.finish().await;
    assert_eq!(fake.with(|s| s.delivered.iter().sum::<usize>()), 150);
    assert!(fake.with(|s| s.shut_down));
    assert_eq!(t.exporter("fake", Signal::Logs).sent.get(), 150);
}

/// Scenario: the destination is down for good during shutdown and the
/// drain deadline passes.
/// Guarantees: the task stops retrying, counts what is left as failed,
/// still shuts the exporter down, and ends.
#[tokio::test(start_paused = true)]
async fn drain_deadline_stops_retrying() {
    let fake = Fake::scripted((0..1000).map(|_| retryable(None)).collect());
    let mut s = settings();
    s.retry.max_elapsed_time = Duration::ZERO;
    let h = start(&fake, s).await;
    h.consumer.consume(logs(2)).await.unwrap();
    h.consumer.consume(logs(3)).await.unwrap();
    let deadline = h.deadline.clone();
    let telemetry = h.telemetry.clone();
    drop(h.consumer);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!h.handle.is_finished());
    deadline.cancel();
    h.handle.await.unwrap();
    assert!(fake.with(|s| s.shut_down));
    let m = telemetry.exporter("fake", Signal::Logs);
    assert_eq!(m.send_failed.get(), 5);
    assert_eq!(m.sent.get(), 0);
}

/// Scenario: the exporter cannot start (file not writable).
/// Guarantees: start_exporter returns its error and spawns nothing.
#[tokio::test]
async fn start_error_surfaces() {
    let fake = Fake::default();
    fake.state.lock().unwrap().fail_start = true;
    let err = start_exporter(
        "file",
        Box::new(fake.clone()),
        settings(),
        Arc::new(Telemetry::new().unwrap()),
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "cannot open /nope/x.jsonl: permission denied"
    );
}

/// A log sink for one test: everything `tracing` writes on this thread.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Scenario: an exporter fails twice with errors that embed its endpoint
/// URL with a password and a query token (as reqwest's errors do): once
/// retryable, then permanently.
/// Guarantees: neither the password nor the token appears in the log
/// lines (retry warning, drop error) or in the exporter's health.
#[tokio::test(start_paused = true)]
async fn export_errors_never_show_url_credentials() {
    let buffer = LogBuffer::default();
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let url = "https://alice:hunter2@siem.example.com/v1/logs?token=t0psecret";
    let fake = Fake::scripted(vec![
        Err(ExportError::retryable(format!(
            "error sending request for url ({url})"
        ))),
        Err(ExportError::permanent(format!(
            "request to {url} answered 400"
        ))),
    ]);
    let h = start(&fake, settings()).await;
    h.consumer.consume(logs(1)).await.unwrap();
    let t = h.finish().await;
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    // Both lines normally arrive; under a parallel test run tracing's
    // process-wide callsite state occasionally filters one of them out
    // (seen on the drop line), so at least one sanitized line must be there
    // and every line that is there is checked. The drop path's text is also
    // checked deterministically through health below (same message).
    assert!(
        log.contains("will retry") || log.contains("dropped"),
        "{log}"
    );
    assert!(log.contains("alice:***@siem.example.com"), "{log}");
    let health = t.health_snapshot()["fake"].last_error.clone().unwrap();
    assert!(health.contains("token=***"), "{health}");
    for secret in ["hunter2", "t0psecret"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!health.contains(secret), "{secret} in health: {health}");
    }
}

/// A concurrent fake whose every call waits for a permit of `gate`.
fn concurrent_gated(gate: &Arc<Semaphore>) -> Fake {
    Fake {
        concurrent: true,
        ..Fake::gated(gate.clone())
    }
}

/// Lets every runnable task run (virtual time, so no wall-clock wait).
async fn settle_tasks() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Scenario: `num_consumers: 4`, an exporter with a concurrent sender that
/// holds every call, and 10 batches queued.
/// Guarantees: exactly four calls are under way at once, the rest wait in
/// the queue; once released, all ten are delivered and never more than
/// four were in flight.
#[tokio::test(start_paused = true)]
async fn num_consumers_bounds_requests_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = concurrent_gated(&gate);
    let mut s = settings();
    s.queue.num_consumers = 4;
    let h = start(&fake, s).await;
    for _ in 0..10 {
        h.consumer.consume(logs(1)).await.unwrap();
    }
    settle_tasks().await;
    assert_eq!(fake.with(|s| (s.in_flight, s.calls.len())), (4, 4));
    // Four in flight, the other six still queued.
    assert_eq!(h.metric(Signal::Logs).queue_size.get(), 6);
    let in_flight = h.telemetry.exporter_in_flight("fake");
    assert_eq!(in_flight.get(), 4);
    gate.add_permits(100);
    let t = h.finish().await;
    assert_eq!(in_flight.get(), 0);
    assert_eq!(fake.with(|s| (s.delivered.len(), s.max_in_flight)), (10, 4));
    assert_eq!(t.exporter("fake", Signal::Logs).sent.get(), 10);
}

/// Scenario: the same with `num_consumers: 1`, and with `num_consumers: 4`
/// on an exporter that offers no concurrent sender (a single writer).
/// Guarantees: one call at a time in both cases, in queue order.
#[tokio::test(start_paused = true)]
async fn one_in_flight_with_one_consumer_or_a_single_writer() {
    for (fake, consumers) in [
        (concurrent_gated(&Arc::new(Semaphore::new(0))), 1),
        (Fake::gated(Arc::new(Semaphore::new(0))), 4),
    ] {
        let gate = fake.gate.clone().unwrap();
        let mut s = settings();
        s.queue.num_consumers = consumers;
        let h = start(&fake, s).await;
        for n in 1..=5 {
            h.consumer.consume(logs(n)).await.unwrap();
        }
        settle_tasks().await;
        assert_eq!(fake.with(|s| s.in_flight), 1);
        gate.add_permits(100);
        h.finish().await;
        assert_eq!(fake.with(|s| s.max_in_flight), 1);
        assert_eq!(fake.with(|s| s.delivered.clone()), vec![1, 2, 3, 4, 5]);
    }
}

/// Scenario: `sending_queue.enabled: false` (each caller waits for its
/// export) with `num_consumers: 4`; four callers send batches of 1 to 4
/// records and the destination answers them in the order 3, 1, 4, 2.
/// Guarantees: all four are in flight at once; no caller hears back
/// before its own batch is delivered, and each hears back as soon as it
/// is, whatever the order.
#[tokio::test(start_paused = true)]
async fn acknowledgements_follow_delivery_in_any_order() {
    let (fake, gates) = Fake::concurrent_gated(&[1, 2, 3, 4]);
    let mut s = settings();
    s.queue.enabled = false;
    s.queue.num_consumers = 4;
    let h = start(&fake, s).await;
    let callers: std::collections::HashMap<usize, JoinHandle<Result<(), ConsumeError>>> = (1..=4)
        .map(|n| {
            let consumer = h.consumer.clone();
            (
                n,
                tokio::spawn(async move { consumer.consume(logs(n)).await }),
            )
        })
        .collect();
    settle_tasks().await;
    assert_eq!(fake.with(|s| s.in_flight), 4);
    let mut answered = Vec::new();
    for n in [3, 1, 4, 2] {
        assert!(callers.values().filter(|c| c.is_finished()).count() == answered.len());
        gates[&n].add_permits(1);
        settle_tasks().await;
        answered.push(n);
        for (size, caller) in &callers {
            assert_eq!(
                caller.is_finished(),
                answered.contains(size),
                "batch of {size}"
            );
        }
    }
    for (_, caller) in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![3, 1, 4, 2]);
    h.finish().await;
}

/// Scenario: `num_consumers: 0`.
/// Guarantees: `validate` refuses it with the key's name.
#[test]
fn zero_consumers_is_refused() {
    let queue = QueueSettings {
        num_consumers: 0,
        ..QueueSettings::default()
    };
    assert_eq!(
        settings_problems(&RetrySettings::default(), &queue),
        vec!["'sending_queue.num_consumers' must be above 0".to_string()]
    );
}

/// Scenario: a queue of 2 batches with a stuck exporter; after it is full,
/// a batch arrives for which a receiver waits (`consume_acked`, OTLP),
/// then one nobody waits for (`consume`, capture).
/// Guarantees: the first is refused ("sending queue is full") and counted
/// as enqueue_failed, evicting nothing; the second evicts the oldest
/// queued batch, counted as dropped.
#[tokio::test(start_paused = true)]
async fn full_queue_refuses_waiting_senders_and_evicts_for_the_rest() {
    let gate = Arc::new(Semaphore::new(0));
    let fake = Fake::gated(gate.clone());
    let mut s = settings();
    s.queue.queue_size = Some(2);
    let h = start(&fake, s).await;
    h.consumer.consume(logs(1)).await.unwrap();
    settle_tasks().await;
    h.consumer.consume(logs(2)).await.unwrap();
    h.consumer.consume(logs(3)).await.unwrap();
    let (ack, _outcome) = Ack::new();
    let err = h.consumer.consume_acked(logs(4), &ack).await.unwrap_err();
    assert!(
        matches!(&err, ConsumeError::Refused(m) if m == "sending queue is full"),
        "{err:?}"
    );
    let m = h.metric(Signal::Logs);
    assert_eq!((m.enqueue_failed.get(), m.dropped.get()), (4, 0));
    h.consumer.consume(logs(5)).await.unwrap();
    assert_eq!(m.dropped.get(), 2);
    gate.add_permits(100);
    h.finish().await;
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![1, 3, 5]);
}
