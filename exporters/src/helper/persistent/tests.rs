//! The persistent queue on its own (push, pop, settle, reopen) and behind
//! the exporter helper with a scripted exporter: durability across a
//! simulated crash, torn-write recovery, the byte limit, acknowledgement
//! only after success.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::record::Frame;
use super::*;
use crate::helper::start_exporter;
use crate::helper::testing::{logs, spans, Fake};
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{Consumer, ExportError, ExporterSettings, Telemetry};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn open_queue(root: &Path, limit: u64) -> (Arc<PersistentQueue>, Arc<Telemetry>) {
    let t = Arc::new(Telemetry::new().unwrap());
    let q = PersistentQueue::open(root, "q", limit, SignalMetrics::new(&t, "q", limit)).unwrap();
    (Arc::new(q), t)
}

fn frame_len(batch: Batch) -> u64 {
    Frame::encode(batch).len()
}

/// Record counts of what `q` hands out until it is empty; each is settled
/// as exported.
async fn drain(q: &Arc<PersistentQueue>) -> Vec<usize> {
    q.close();
    let mut out = Vec::new();
    while let Some(item) = q.pop().await {
        out.push(item.batch.record_count());
        item.completion.unwrap().succeed();
    }
    out
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    segments::list(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

/// Scenario: batches are pushed, one is handed out and settled, one handed
/// out and dropped unsettled, then the queue is dropped and reopened.
/// Guarantees: only the settled batch is gone; the others come back in
/// order, the abandoned one included.
#[tokio::test]
async fn unsettled_batches_survive_reopening() {
    let root = tempfile::tempdir().unwrap();
    let (q, _t) = open_queue(root.path(), 1 << 20);
    for n in 1..=4 {
        q.push(logs(n), Overflow::EvictOldest).await.unwrap();
    }
    let first = q.pop().await.unwrap();
    assert_eq!(first.batch.record_count(), 1);
    first.completion.unwrap().succeed();
    let second = q.pop().await.unwrap();
    drop(second);
    drop(q);
    let (q, t) = open_queue(root.path(), 1 << 20);
    let gauge = t.exporter("q", Signal::Logs).queue_size.get();
    assert_eq!(
        gauge as u64,
        frame_len(logs(2)) + frame_len(logs(3)) + frame_len(logs(4))
    );
    assert_eq!(t.exporter("q", Signal::Logs).queue_records.get(), 9);
    assert_eq!(drain(&q).await, vec![2, 3, 4]);
    assert_eq!(t.exporter("q", Signal::Logs).queue_size.get(), 0);
    assert_eq!(t.exporter("q", Signal::Logs).queue_records.get(), 0);
    drop(q);
    let (q, _t) = open_queue(root.path(), 1 << 20);
    assert_eq!(drain(&q).await, Vec::<usize>::new());
}

/// Scenario: three batches are handed out and settled out of order (third,
/// first), the second is still in flight when the queue goes away.
/// Guarantees: after reopening exactly the second is delivered again.
#[tokio::test]
async fn out_of_order_settlement_is_remembered() {
    let root = tempfile::tempdir().unwrap();
    let (q, _t) = open_queue(root.path(), 1 << 20);
    for n in 1..=3 {
        q.push(spans(n), Overflow::EvictOldest).await.unwrap();
    }
    let a = q.pop().await.unwrap();
    let b = q.pop().await.unwrap();
    let c = q.pop().await.unwrap();
    c.completion.unwrap().succeed();
    a.completion.unwrap().fail("rejected for good");
    let in_flight = b;
    drop(q);
    drop(in_flight);
    let (q, _t) = open_queue(root.path(), 1 << 20);
    assert_eq!(drain(&q).await, vec![2]);
}

/// Scenario: a crash cut the last write short: the segment ends with part
/// of a record (only its first bytes made it), or with a whole-length
/// record whose bytes are wrong.
/// Guarantees: the whole records before it are delivered, the torn one is
/// dropped and cut off the file, and the queue takes new batches after it.
#[tokio::test]
async fn torn_last_record_is_detected_and_dropped() {
    for damage in ["cut", "garbage"] {
        let root = tempfile::tempdir().unwrap();
        let (q, _t) = open_queue(root.path(), 1 << 20);
        for n in 1..=3 {
            q.push(logs(n), Overflow::EvictOldest).await.unwrap();
        }
        let dir = q.dir().to_path_buf();
        drop(q);
        let files = segment_files(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let whole = bytes.len();
        let mut torn = Frame::encode(logs(9));
        let torn = torn.seal(3).to_vec();
        match damage {
            "cut" => bytes.extend_from_slice(&torn[..torn.len() / 2]),
            _ => {
                let mut bad = torn.clone();
                let last = bad.len() - 1;
                bad[last] ^= 0xff;
                bytes.extend_from_slice(&bad);
            }
        }
        std::fs::write(&files[0], &bytes).unwrap();
        let (q, _t) = open_queue(root.path(), 1 << 20);
        assert_eq!(std::fs::metadata(&files[0]).unwrap().len() as usize, whole);
        q.push(logs(4), Overflow::EvictOldest).await.unwrap();
        assert_eq!(drain(&q).await, vec![1, 2, 3, 4], "{damage}");
    }
}

/// Scenario: a damaged record in the middle of an older segment (a bit flip
/// on disk, not a crash).
/// Guarantees: opening still works; the records before it are delivered,
/// the rest of that segment is skipped, later segments are delivered.
#[tokio::test]
async fn damage_inside_an_older_segment_skips_only_that_segment() {
    let root = tempfile::tempdir().unwrap();
    let dir;
    {
        let (q, _t) = open_queue(root.path(), 1 << 20);
        dir = q.dir().to_path_buf();
        for n in 1..=3 {
            q.push(logs(n), Overflow::EvictOldest).await.unwrap();
        }
    }
    {
        // A second run appends to a new segment.
        let (q, _t) = open_queue(root.path(), 1 << 20);
        q.push(logs(7), Overflow::EvictOldest).await.unwrap();
    }
    let files = segment_files(&dir);
    assert_eq!(files.len(), 2);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let second_record = record::SEGMENT_MAGIC.len() + frame_len(logs(1)) as usize;
    bytes[second_record + 20] ^= 1;
    std::fs::write(&files[0], &bytes).unwrap();
    let (q, _t) = open_queue(root.path(), 1 << 20);
    assert_eq!(drain(&q).await, vec![1, 7]);
}

/// Scenario: a byte limit that holds three of five batches; nothing is
/// taken by the worker.
/// Guarantees: the two oldest are dropped and their records counted as
/// dropped; the gauges show bytes against the byte capacity; the newest
/// three are delivered in order; a batch larger than the limit is refused.
#[tokio::test]
async fn byte_limit_drops_the_oldest_and_counts() {
    let root = tempfile::tempdir().unwrap();
    let limit = frame_len(logs(12)) + frame_len(logs(13)) + frame_len(logs(14));
    let (q, t) = open_queue(root.path(), limit);
    for n in 10..=14 {
        q.push(logs(n), Overflow::EvictOldest).await.unwrap();
    }
    let m = t.exporter("q", Signal::Logs);
    assert_eq!(m.dropped.get(), 10 + 11);
    assert_eq!(m.queue_size.get() as u64, limit);
    assert_eq!(m.queue_capacity.get() as u64, limit);
    assert_eq!(m.queue_records.get(), 12 + 13 + 14);
    let err = q.push(logs(1000), Overflow::EvictOldest).await.unwrap_err();
    assert!(matches!(err, PushError::TooLarge { .. }), "{err}");
    assert_eq!(drain(&q).await, vec![12, 13, 14]);
    drop(q);
    // The evictions are on disk too.
    let (q, _t) = open_queue(root.path(), limit);
    assert_eq!(drain(&q).await, Vec::<usize>::new());
}

/// Scenario: the oldest batch is in flight (handed to the exporter) when
/// the limit is reached.
/// Guarantees: the in-flight batch is never evicted; waiting ones are.
#[tokio::test]
async fn in_flight_batches_are_not_evicted() {
    let root = tempfile::tempdir().unwrap();
    let limit = frame_len(logs(10)) + frame_len(logs(11));
    let (q, t) = open_queue(root.path(), limit);
    q.push(logs(10), Overflow::EvictOldest).await.unwrap();
    let in_flight = q.pop().await.unwrap();
    q.push(logs(11), Overflow::EvictOldest).await.unwrap();
    q.push(logs(12), Overflow::EvictOldest).await.unwrap();
    assert_eq!(t.exporter("q", Signal::Logs).dropped.get(), 11);
    in_flight.completion.unwrap().succeed();
    assert_eq!(drain(&q).await, vec![12]);
}

/// Scenario: a full queue (one batch waiting, one in flight) offered a
/// batch whose sender waits (`Overflow::Refuse`), then room is made.
/// Guarantees: the batch is refused ("sending queue is full"), nothing is
/// evicted or dropped; once a batch settles, the same push is stored.
#[tokio::test]
async fn refusing_push_keeps_what_is_stored() {
    let root = tempfile::tempdir().unwrap();
    let limit = frame_len(logs(1)) * 2;
    let (q, t) = open_queue(root.path(), limit);
    q.push(logs(1), Overflow::Refuse).await.unwrap();
    q.push(logs(1), Overflow::Refuse).await.unwrap();
    let in_flight = q.pop().await.unwrap();
    let err = q.push(logs(1), Overflow::Refuse).await.unwrap_err();
    assert_eq!(err, PushError::Full);
    assert_eq!(err.to_string(), "sending queue is full");
    assert_eq!(t.exporter("q", Signal::Logs).dropped.get(), 0);
    in_flight.completion.unwrap().succeed();
    q.push(logs(1), Overflow::Refuse).await.unwrap();
    assert_eq!(drain(&q).await, vec![1, 1]);
}

/// Scenario: block_on_overflow with a full queue.
/// Guarantees: the producer waits (nothing dropped) until the worker
/// settles a batch, then its batch is stored.
#[tokio::test(start_paused = true)]
async fn blocking_push_waits_for_room() {
    let root = tempfile::tempdir().unwrap();
    let limit = frame_len(logs(1)) * 2;
    let (q, t) = open_queue(root.path(), limit);
    q.push(logs(1), Overflow::Wait).await.unwrap();
    q.push(logs(1), Overflow::Wait).await.unwrap();
    let q2 = q.clone();
    let pusher = tokio::spawn(async move { q2.push(logs(1), Overflow::Wait).await });
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!pusher.is_finished(), "the producer must wait while full");
    let item = q.pop().await.unwrap();
    assert!(
        !pusher.is_finished(),
        "in flight still counts against the limit"
    );
    item.completion.unwrap().succeed();
    pusher.await.unwrap().unwrap();
    assert_eq!(t.exporter("q", Signal::Logs).dropped.get(), 0);
    assert_eq!(drain(&q).await, vec![1, 1]);
}

/// Scenario: enough batches to fill several segment files, all exported.
/// Guarantees: settled segments are deleted; only the active one is left.
#[tokio::test]
async fn settled_segments_are_deleted() {
    let root = tempfile::tempdir().unwrap();
    // 1 MiB: segments of the 64 KiB minimum.
    let (q, _t) = open_queue(root.path(), 1 << 20);
    let per = frame_len(logs(100));
    let count = (3 * SEGMENT_BYTES.0 / per + 1) as usize;
    for _ in 0..count {
        q.push(logs(100), Overflow::EvictOldest).await.unwrap();
    }
    assert!(segment_files(q.dir()).len() >= 3);
    assert_eq!(drain(&q).await.len(), count);
    assert_eq!(segment_files(q.dir()).len(), 1);
}

/// Scenario: two exporters share a storage root; a second process opens a
/// queue already open.
/// Guarantees: each id gets its own directory (escaped, inside the root);
/// the second open is refused with a clear error.
#[tokio::test]
async fn one_directory_per_exporter_and_exclusive() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(
        exporter_dir(root.path(), "otlp_grpc/siem"),
        root.path().join("otlp_grpc%2Fsiem")
    );
    assert_eq!(
        exporter_dir(root.path(), "file/../x"),
        root.path().join("file%2F%2E%2E%2Fx")
    );
    let long = format!("file/{}", "é".repeat(500));
    let dir = exporter_dir(root.path(), &long);
    assert!(dir.file_name().unwrap().len() <= MAX_DIR_NAME);
    assert_ne!(dir, exporter_dir(root.path(), &format!("{long}x")));
    let t = Arc::new(Telemetry::new().unwrap());
    let open =
        |id: &str| PersistentQueue::open(root.path(), id, 1 << 20, SignalMetrics::new(&t, id, 1));
    let a = Arc::new(open("otlp_grpc/a").unwrap());
    let b = Arc::new(open("otlp_grpc/b").unwrap());
    a.push(logs(1), Overflow::EvictOldest).await.unwrap();
    b.push(logs(2), Overflow::EvictOldest).await.unwrap();
    let err = open("otlp_grpc/a").err().unwrap();
    assert!(matches!(err, OpenError::Locked(_)), "{err}");
    assert!(
        err.to_string().contains("in use by another oispd process"),
        "{err}"
    );
    assert_eq!(drain(&a).await, vec![1]);
    assert_eq!(drain(&b).await, vec![2]);
}

// The helper with a persistent queue.

fn settings(root: &Path) -> ExporterSettings {
    ExporterSettings {
        queue: QueueSettings {
            storage: Some(root.to_path_buf()),
            ..QueueSettings::default()
        },
        retry: RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            max_elapsed_time: Duration::ZERO,
            multiplier: 2.0,
            randomization_factor: 0.0,
        },
        batch_size: 0,
        flush_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    }
}

struct Run {
    consumer: Arc<dyn Consumer>,
    handle: JoinHandle<()>,
    telemetry: Arc<Telemetry>,
    deadline: CancellationToken,
}

async fn run(fake: &Fake, settings: ExporterSettings) -> Run {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let deadline = CancellationToken::new();
    let (consumer, handle) = start_exporter(
        "otlp_grpc/x",
        Box::new(fake.clone()),
        settings,
        telemetry.clone(),
        deadline.clone(),
    )
    .await
    .unwrap();
    Run {
        consumer,
        handle,
        telemetry,
        deadline,
    }
}

impl Run {
    /// The process dies: the worker stops wherever it is, nothing drains.
    async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
        drop(self.consumer);
        // The worker's send tasks are aborted with it; let them go, and
        // with them their hold on the queue directory.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// A clean stop: the queue drains into the exporter.
    async fn finish(self) -> Arc<Telemetry> {
        drop(self.consumer);
        self.handle.await.unwrap();
        self.telemetry
    }
}

/// Scenario: the destination hangs; 5 log and 2 span batches are accepted;
/// the process crashes; a new run with a working destination starts on the
/// same directory.
/// Guarantees: every accepted batch is delivered by the second run, in
/// order per signal, and a third run delivers nothing more.
#[tokio::test]
async fn accepted_batches_survive_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let stuck = Fake::gated(Arc::new(Semaphore::new(0)));
    let r = run(&stuck, settings(root.path())).await;
    for n in 1..=5 {
        r.consumer.consume(logs(n)).await.unwrap();
    }
    r.consumer.consume(spans(6)).await.unwrap();
    r.consumer.consume(spans(7)).await.unwrap();
    r.crash().await;
    assert_eq!(stuck.with(|s| s.delivered.len()), 0);

    let good = Fake::default();
    let t = run(&good, settings(root.path())).await.finish().await;
    assert_eq!(
        good.with(|s| s.delivered.clone()),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(t.exporter("otlp_grpc/x", Signal::Logs).sent.get(), 15);
    assert_eq!(t.exporter("otlp_grpc/x", Signal::Traces).sent.get(), 13);

    let again = Fake::default();
    run(&again, settings(root.path())).await.finish().await;
    assert!(again.with(|s| s.calls.is_empty()));
}

/// Scenario: the destination fails (retryable) and the process crashes
/// mid-retry; in another run a batch is exported and then the process
/// crashes.
/// Guarantees: a batch is removed only after the exporter succeeded: the
/// failing one is delivered after the restart, the exported one is not
/// delivered again.
#[tokio::test(start_paused = true)]
async fn acknowledged_only_after_success() {
    let root = tempfile::tempdir().unwrap();
    let failing = Fake::scripted(
        (0..100)
            .map(|_| Err(ExportError::retryable("down")))
            .collect(),
    );
    let r = run(&failing, settings(root.path())).await;
    r.consumer.consume(logs(3)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(failing.with(|s| s.calls.len()) >= 3);
    r.crash().await;

    let good = Fake::default();
    let r = run(&good, settings(root.path())).await;
    r.consumer.consume(logs(4)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(good.with(|s| s.delivered.clone()), vec![3, 4]);
    r.crash().await;

    let again = Fake::default();
    run(&again, settings(root.path())).await.finish().await;
    assert!(again.with(|s| s.calls.is_empty()));
}

/// Scenario: a permanent error on one batch.
/// Guarantees: counted as send_failed once and removed: not retried, not
/// delivered after a restart.
#[tokio::test(start_paused = true)]
async fn permanent_failure_is_counted_and_removed() {
    let root = tempfile::tempdir().unwrap();
    let fake = Fake::scripted(vec![Err(ExportError::permanent("HTTP 400"))]);
    let r = run(&fake, settings(root.path())).await;
    r.consumer.consume(logs(2)).await.unwrap();
    let t = r.finish().await;
    assert_eq!(t.exporter("otlp_grpc/x", Signal::Logs).send_failed.get(), 2);
    let again = Fake::default();
    run(&again, settings(root.path())).await.finish().await;
    assert!(again.with(|s| s.calls.is_empty()));
}

/// Scenario: shutdown with the destination down and retries without end
/// (max_elapsed_time 0); the drain deadline passes.
/// Guarantees: the worker stops, nothing is counted as failed, and the
/// batches are delivered by the next run.
#[tokio::test(start_paused = true)]
async fn drain_deadline_keeps_batches_for_the_next_start() {
    let root = tempfile::tempdir().unwrap();
    let down = Fake::scripted(
        (0..1000)
            .map(|_| Err(ExportError::retryable("down")))
            .collect(),
    );
    let r = run(&down, settings(root.path())).await;
    r.consumer.consume(logs(2)).await.unwrap();
    r.consumer.consume(logs(3)).await.unwrap();
    let (deadline, telemetry) = (r.deadline.clone(), r.telemetry.clone());
    drop(r.consumer);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        !r.handle.is_finished(),
        "retrying without end until the deadline"
    );
    deadline.cancel();
    r.handle.await.unwrap();
    assert_eq!(
        telemetry
            .exporter("otlp_grpc/x", Signal::Logs)
            .send_failed
            .get(),
        0
    );
    let good = Fake::default();
    run(&good, settings(root.path())).await.finish().await;
    assert_eq!(good.with(|s| s.delivered.clone()), vec![2, 3]);
}

/// Scenario: a persistent queue with batching (batch_size 4): 3 + 3 records
/// are merged and split across exports, and the process crashes after the
/// first export of 4.
/// Guarantees: a stored batch is acknowledged only when all its records
/// went out: the second stored batch (2 of its 3 records still pending) is
/// delivered again after the restart.
#[tokio::test(start_paused = true)]
async fn split_batches_are_acknowledged_when_every_part_is_exported() {
    let root = tempfile::tempdir().unwrap();
    let mut s = settings(root.path());
    s.batch_size = 4;
    s.flush_interval = Duration::from_secs(3600);
    let fake = Fake::default();
    let r = run(&fake, s.clone()).await;
    r.consumer.consume(logs(3)).await.unwrap();
    r.consumer.consume(logs(3)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![4]);
    r.crash().await;
    let again = Fake::default();
    run(&again, s).await.finish().await;
    assert_eq!(again.with(|s| s.delivered.clone()), vec![3]);
}

/// Scenario: the storage directory cannot be created (a file is in the way).
/// Guarantees: start_exporter fails with an error naming the setting.
#[tokio::test]
async fn unusable_storage_fails_the_start() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = start_exporter(
        "file",
        Box::new(Fake::default()),
        settings(&file),
        Arc::new(Telemetry::new().unwrap()),
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .starts_with("sending_queue.storage: cannot create"),
        "{err}"
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file in the queue's directory, with its mode.
fn modes_in(dir: &Path) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                mode(&p),
            )
        })
        .collect();
    out.sort();
    out
}

/// Scenario: a queue under a `storage` directory that does not exist yet;
/// batches are pushed (several segments) and one is settled.
/// Guarantees: the storage directory and the exporter's directory are
/// 0700; every file in it (segments, lock, acknowledgement file) is 0600.
#[tokio::test]
async fn queue_files_and_directories_are_private() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("storage");
    let (q, _t) = open_queue(&root, 1 << 20);
    let dir = q.dir().to_path_buf();
    // Segments are 64 KiB at this limit: push until there are two.
    for _ in 0..1000 {
        if segment_files(&dir).len() > 1 {
            break;
        }
        q.push(logs(50), Overflow::EvictOldest).await.unwrap();
    }
    q.pop().await.unwrap().completion.unwrap().succeed();
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&dir), 0o700);
    let files = modes_in(&dir);
    assert!(segment_files(&dir).len() > 1, "{files:?}");
    assert!(files.iter().any(|(n, _)| n == "acked"), "{files:?}");
    assert!(files.iter().any(|(n, _)| n == "lock"), "{files:?}");
    assert!(files.iter().all(|(_, m)| *m == 0o600), "{files:?}");
}

/// Scenario: a queue directory an older version left 0755 with 0644
/// files (segments, lock, acknowledgement file, a leftover temp file);
/// the queue is opened again.
/// Guarantees: the directory becomes 0700 and every file 0600, and the
/// stored batches are still delivered.
#[tokio::test]
async fn loose_queue_files_are_tightened_on_open() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let (q, _t) = open_queue(root.path(), 1 << 20);
    q.push(logs(3), Overflow::EvictOldest).await.unwrap();
    q.push(logs(4), Overflow::EvictOldest).await.unwrap();
    q.pop().await.unwrap().completion.unwrap().succeed();
    let dir = q.dir().to_path_buf();
    drop(q);
    std::fs::write(dir.join("acked.tmp"), b"").unwrap();
    let loose =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        loose(&entry.unwrap().path(), 0o644);
    }
    loose(&dir, 0o755);
    let (q, _t) = open_queue(root.path(), 1 << 20);
    assert_eq!(mode(&dir), 0o700);
    q.push(logs(5), Overflow::EvictOldest).await.unwrap();
    q.pop().await.unwrap().completion.unwrap().succeed();
    let files = modes_in(&dir);
    assert!(files.iter().all(|(_, m)| *m == 0o600), "{files:?}");
    assert_eq!(drain(&q).await, vec![5]);
}

/// Scenario: a persistent queue behind an exporter with `num_consumers: 4`;
/// six batches (1 to 6 records) are accepted, four go out at once, the
/// destination delivers the batches of 3 and 1 (out of order) and the
/// process crashes with the others in flight or waiting; a new run starts
/// on the same directory.
/// Guarantees: the new run delivers exactly the batches not acknowledged
/// (2, 4, 5, 6), none of the delivered ones again, and a third run
/// delivers nothing.
#[tokio::test(start_paused = true)]
async fn out_of_order_completion_then_crash_redelivers_exactly_the_unacknowledged() {
    let root = tempfile::tempdir().unwrap();
    let mut s = settings(root.path());
    s.queue.num_consumers = 4;
    let (fake, gates) = Fake::concurrent_gated(&[1, 2, 3, 4, 5, 6]);
    let r = run(&fake, s.clone()).await;
    for n in 1..=6 {
        r.consumer.consume(logs(n)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(fake.with(|s| s.in_flight), 4);
    gates[&3].add_permits(1);
    gates[&1].add_permits(1);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(fake.with(|s| s.delivered.clone()), vec![3, 1]);
    r.crash().await;

    let good = Fake {
        concurrent: true,
        ..Fake::default()
    };
    run(&good, s.clone()).await.finish().await;
    let mut again = good.with(|s| s.delivered.clone());
    again.sort_unstable();
    assert_eq!(again, vec![2, 4, 5, 6]);

    let third = Fake::default();
    run(&third, s).await.finish().await;
    assert!(third.with(|s| s.calls.is_empty()));
}

/// Scenario: a persistent queue with room for two batches behind a stuck
/// exporter; once full, a batch arrives for which a receiver waits
/// (`consume_acked`, OTLP), then one nobody waits for (`consume`).
/// Guarantees: the first is refused ("sending queue is full") and counted
/// as enqueue_failed, evicting nothing; the second evicts the oldest
/// waiting batch, counted as dropped.
#[tokio::test(start_paused = true)]
async fn full_persistent_queue_refuses_waiting_senders() {
    let root = tempfile::tempdir().unwrap();
    let mut s = settings(root.path());
    s.queue.max_storage_bytes = frame_len(logs(1)) * 2;
    let stuck = Fake::gated(Arc::new(Semaphore::new(0)));
    let r = run(&stuck, s).await;
    r.consumer.consume(logs(1)).await.unwrap();
    r.consumer.consume(logs(1)).await.unwrap();
    let (ack, _outcome) = oispd_component::Ack::new();
    let err = r.consumer.consume_acked(logs(1), &ack).await.unwrap_err();
    assert!(
        matches!(&err, oispd_component::ConsumeError::Refused(m) if m == "sending queue is full"),
        "{err:?}"
    );
    let m = r.telemetry.exporter("otlp_grpc/x", Signal::Logs);
    assert_eq!((m.enqueue_failed.get(), m.dropped.get()), (1, 0));
    r.consumer.consume(logs(1)).await.unwrap();
    assert_eq!(m.dropped.get(), 1);
    r.crash().await;
}
