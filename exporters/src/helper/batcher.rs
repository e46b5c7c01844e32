//! Batching in front of the exporter: records of each signal accumulate
//! until `batch_size` records are pending or the oldest has waited
//! `flush_interval`, whichever comes first; batches larger than `batch_size`
//! are split so that no export call carries more. `batch_size: 0` passes
//! batches through as they come.
//!
//! Splitting keeps OTLP grouping: each part repeats the resource and scope
//! of the records it carries.

use super::completion::Completion;
use super::queue::Item;
use oispd_component::{Batch, Signal};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// A batch ready for export and the callers waiting on its records.
pub(crate) struct Ready {
    /// The records.
    pub(crate) batch: Batch,
    /// Notices settled by this export.
    pub(crate) completions: Vec<Completion>,
}

#[derive(Default)]
struct Pending {
    batch: Option<Batch>,
    records: usize,
    /// Every pending queued item in order: its notice (if any) and how many
    /// of its records are still pending.
    items: VecDeque<(Option<Completion>, usize)>,
    since: Option<Instant>,
}

impl Pending {
    /// The notices of the next `records` pending records, which leave in
    /// one part: an item that leaves whole gives its notice up, an item
    /// split across parts gives this part a clone and stays.
    fn take_notices(&mut self, records: usize) -> Vec<Completion> {
        let mut left = records;
        let mut out = Vec::new();
        while left > 0 {
            let Some(front) = self.items.front_mut() else {
                break;
            };
            if front.1 <= left {
                left -= front.1;
                if let Some((Some(c), _)) = self.items.pop_front() {
                    out.push(c);
                }
            } else {
                front.1 -= left;
                left = 0;
                if let Some(c) = &front.0 {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// Accumulates records per signal.
pub(crate) struct Batcher {
    batch_size: usize,
    flush_interval: Duration,
    /// Per signal, in [`Signal::ALL`] order.
    pending: [Pending; 3],
}

impl Batcher {
    /// A batcher cutting at `batch_size` records (0 = pass through) or after
    /// `flush_interval`.
    pub(crate) fn new(batch_size: usize, flush_interval: Duration) -> Batcher {
        Batcher {
            batch_size,
            flush_interval,
            pending: Default::default(),
        }
    }

    fn pending(&mut self, signal: Signal) -> &mut Pending {
        &mut self.pending[signal.index()]
    }

    /// Adds a queued item; returns the batches that became ready.
    pub(crate) fn push(&mut self, item: Item, now: Instant) -> Vec<Ready> {
        if self.batch_size == 0 {
            return vec![Ready {
                batch: item.batch,
                completions: item.completion.into_iter().collect(),
            }];
        }
        let batch_size = self.batch_size;
        let records = item.batch.record_count();
        let pending = self.pending(item.batch.signal());
        pending.records += records;
        pending.items.push_back((item.completion, records));
        pending.since.get_or_insert(now);
        match &mut pending.batch {
            Some(b) => {
                // Same signal by construction; a mismatch cannot happen.
                let _ = b.append(item.batch);
            }
            None => pending.batch = Some(item.batch),
        }
        if pending.records < batch_size {
            return Vec::new();
        }
        let Some(batch) = pending.batch.take() else {
            return Vec::new();
        };
        let mut parts = split(batch, batch_size);
        let mut ready = Vec::new();
        let remainder = match parts.last() {
            Some(last) if last.record_count() < batch_size => parts.pop(),
            _ => None,
        };
        // Every part carries the notices of exactly the items its records
        // came from, so an item is settled once its last record went out.
        for part in parts {
            let completions = pending.take_notices(part.record_count());
            ready.push(Ready {
                batch: part,
                completions,
            });
        }
        match remainder {
            Some(rest) => {
                pending.records = rest.record_count();
                pending.batch = Some(rest);
            }
            None => {
                pending.records = 0;
                pending.since = None;
            }
        }
        ready
    }

    /// The moment the oldest pending record must go out, if any is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|p| p.since)
            .map(|since| since + self.flush_interval)
            .min()
    }

    /// Releases the signals whose deadline has passed.
    pub(crate) fn flush_due(&mut self, now: Instant) -> Vec<Ready> {
        let interval = self.flush_interval;
        let mut out = Vec::new();
        for pending in &mut self.pending {
            if pending.since.is_some_and(|s| s + interval <= now) {
                out.extend(take(pending));
            }
        }
        out
    }

    /// Releases everything pending (queue momentarily empty with a zero
    /// interval, or shutdown).
    pub(crate) fn flush_all(&mut self) -> Vec<Ready> {
        self.pending.iter_mut().filter_map(take).collect()
    }

    /// True when records are pending.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| p.since.is_some())
    }
}

fn take(pending: &mut Pending) -> Option<Ready> {
    let batch = pending.batch.take();
    let completions = pending.items.drain(..).filter_map(|(c, _)| c).collect();
    pending.records = 0;
    pending.since = None;
    batch.map(|batch| Ready { batch, completions })
}

/// Splits `batch` into parts of at most `max` records (`max` > 0), keeping
/// resource and scope with every part.
pub(crate) fn split(batch: Batch, max: usize) -> Vec<Batch> {
    if max == 0 || batch.record_count() <= max {
        return vec![batch];
    }
    match batch {
        Batch::Logs(resources) => split_nested(resources, max)
            .into_iter()
            .map(Batch::Logs)
            .collect(),
        Batch::Traces(resources) => split_nested(resources, max)
            .into_iter()
            .map(Batch::Traces)
            .collect(),
        // Metrics split between whole metrics: a metric's points stay
        // together, so a part may hold more than `max` points.
        Batch::Metrics(resources) => split_nested(resources, max)
            .into_iter()
            .map(Batch::Metrics)
            .collect(),
    }
}

/// OTLP's resource -> scope -> record nesting, for logs and spans alike.
trait Nested: Sized {
    type Scope: Clone;
    type Record;
    fn take_scopes(&mut self) -> Vec<Self::Scope>;
    fn take_records(scope: &mut Self::Scope) -> Vec<Self::Record>;
    /// `scope` (its records taken) holding `records`.
    fn refill(scope: &Self::Scope, records: Vec<Self::Record>) -> Self::Scope;
    fn same_resource(&self, other: &Self) -> bool;
    fn push_scope(&mut self, scope: Self::Scope);
    /// A group with `like`'s resource holding only `scope`.
    fn regroup(like: &Self, scope: Self::Scope) -> Self;
}

impl Nested for ResourceLogs {
    type Scope = ScopeLogs;
    type Record = LogRecord;
    fn take_scopes(&mut self) -> Vec<ScopeLogs> {
        std::mem::take(&mut self.scope_logs)
    }
    fn take_records(scope: &mut ScopeLogs) -> Vec<Self::Record> {
        std::mem::take(&mut scope.log_records)
    }
    fn refill(scope: &ScopeLogs, records: Vec<Self::Record>) -> ScopeLogs {
        ScopeLogs {
            log_records: records,
            ..scope.clone()
        }
    }
    fn same_resource(&self, other: &Self) -> bool {
        self.resource == other.resource && self.schema_url == other.schema_url
    }
    fn push_scope(&mut self, scope: ScopeLogs) {
        self.scope_logs.push(scope);
    }
    fn regroup(like: &Self, scope: ScopeLogs) -> Self {
        ResourceLogs {
            resource: like.resource.clone(),
            scope_logs: vec![scope],
            schema_url: like.schema_url.clone(),
        }
    }
}

impl Nested for ResourceSpans {
    type Scope = ScopeSpans;
    type Record = Span;
    fn take_scopes(&mut self) -> Vec<ScopeSpans> {
        std::mem::take(&mut self.scope_spans)
    }
    fn take_records(scope: &mut ScopeSpans) -> Vec<Self::Record> {
        std::mem::take(&mut scope.spans)
    }
    fn refill(scope: &ScopeSpans, records: Vec<Self::Record>) -> ScopeSpans {
        ScopeSpans {
            spans: records,
            ..scope.clone()
        }
    }
    fn same_resource(&self, other: &Self) -> bool {
        self.resource == other.resource && self.schema_url == other.schema_url
    }
    fn push_scope(&mut self, scope: ScopeSpans) {
        self.scope_spans.push(scope);
    }
    fn regroup(like: &Self, scope: ScopeSpans) -> Self {
        ResourceSpans {
            resource: like.resource.clone(),
            scope_spans: vec![scope],
            schema_url: like.schema_url.clone(),
        }
    }
}

impl Nested for ResourceMetrics {
    type Scope = ScopeMetrics;
    type Record = Metric;
    fn take_scopes(&mut self) -> Vec<ScopeMetrics> {
        std::mem::take(&mut self.scope_metrics)
    }
    fn take_records(scope: &mut ScopeMetrics) -> Vec<Self::Record> {
        std::mem::take(&mut scope.metrics)
    }
    fn refill(scope: &ScopeMetrics, records: Vec<Self::Record>) -> ScopeMetrics {
        ScopeMetrics {
            metrics: records,
            ..scope.clone()
        }
    }
    fn same_resource(&self, other: &Self) -> bool {
        self.resource == other.resource && self.schema_url == other.schema_url
    }
    fn push_scope(&mut self, scope: ScopeMetrics) {
        self.scope_metrics.push(scope);
    }
    fn regroup(like: &Self, scope: ScopeMetrics) -> Self {
        ResourceMetrics {
            resource: like.resource.clone(),
            scope_metrics: vec![scope],
            schema_url: like.schema_url.clone(),
        }
    }
}

/// Cuts `resources` into parts of at most `max` records, keeping order and
/// each record under its own resource and scope.
fn split_nested<R: Nested>(resources: Vec<R>, max: usize) -> Vec<Vec<R>> {
    let mut parts: Vec<Vec<R>> = Vec::new();
    let mut current: Vec<R> = Vec::new();
    let mut count = 0;
    for mut group in resources {
        for mut scope in group.take_scopes() {
            let mut records = R::take_records(&mut scope).into_iter().peekable();
            while records.peek().is_some() {
                let chunk: Vec<_> = records.by_ref().take(max - count).collect();
                count += chunk.len();
                let piece = R::refill(&scope, chunk);
                // Reuse the last group when it is the same resource.
                match current.last_mut() {
                    Some(last) if last.same_resource(&group) => last.push_scope(piece),
                    _ => current.push(R::regroup(&group, piece)),
                }
                if count == max {
                    parts.push(std::mem::take(&mut current));
                    count = 0;
                }
            }
        }
    }
    if count > 0 {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::helper::testing::{logs, metrics, spans};

    fn item(batch: Batch) -> Item {
        Item {
            batch,
            completion: None,
        }
    }

    /// Scenario: 7 log records in two resource groups split at 3.
    /// Guarantees: parts of 3, 3, 1 records; every record kept in order with
    /// its resource.
    #[test]
    fn split_keeps_every_record_and_its_resource() {
        let mut b = logs(4);
        let mut other = logs(3);
        if let Batch::Logs(rl) = &mut other {
            rl[0].resource = None;
        }
        b.append(other).unwrap();
        let parts = split(b, 3);
        let counts: Vec<usize> = parts.iter().map(|p| p.record_count()).collect();
        assert_eq!(counts, vec![3, 3, 1]);
        let Batch::Logs(second) = &parts[1] else {
            panic!("logs")
        };
        // The second part straddles the two input resource groups.
        assert_eq!(second.len(), 2);
        let bodies: Vec<u64> = parts
            .iter()
            .flat_map(|p| match p {
                Batch::Logs(rl) => rl
                    .iter()
                    .flat_map(|r| r.scope_logs.iter())
                    .flat_map(|s| s.log_records.iter())
                    .map(|r| r.time_unix_nano)
                    .collect::<Vec<_>>(),
                Batch::Traces(_) | Batch::Metrics(_) => vec![],
            })
            .collect();
        assert_eq!(bodies, vec![0, 1, 2, 3, 0, 1, 2]);
        let s = split(spans(5), 2);
        assert_eq!(
            s.iter().map(|p| p.record_count()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        // Metrics split between whole metrics (one point each here).
        let m = split(metrics(5), 2);
        assert_eq!(
            m.iter().map(|p| p.record_count()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
    }

    /// Scenario: batch_size 5 receives 3 + 4 records.
    /// Guarantees: one full batch of 5 goes out, 2 stay pending with the
    /// original deadline, and flush_due releases them at the deadline.
    #[test]
    fn cuts_at_size_and_flushes_rest_at_deadline() {
        let t0 = Instant::now();
        let mut b = Batcher::new(5, Duration::from_secs(1));
        assert!(b.push(item(logs(3)), t0).is_empty());
        assert_eq!(b.deadline(), Some(t0 + Duration::from_secs(1)));
        let ready = b.push(item(logs(4)), t0 + Duration::from_millis(10));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].batch.record_count(), 5);
        assert!(b.flush_due(t0 + Duration::from_millis(999)).is_empty());
        let rest = b.flush_due(t0 + Duration::from_secs(1));
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].batch.record_count(), 2);
        assert!(!b.has_pending());
    }

    /// Scenario: logs and traces interleave with batching on.
    /// Guarantees: each signal accumulates separately.
    #[test]
    fn signals_accumulate_separately() {
        let now = Instant::now();
        let mut b = Batcher::new(4, Duration::from_secs(1));
        assert!(b.push(item(logs(2)), now).is_empty());
        assert!(b.push(item(spans(3)), now).is_empty());
        let ready = b.push(item(logs(2)), now);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].batch.signal(), Signal::Logs);
        let all = b.flush_all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].batch.record_count(), 3);
    }

    /// Scenario: batch_size 4; items of 3 and 3 records with notices arrive.
    /// Guarantees: the first export of 4 carries the first item's notice
    /// (given up: it leaves whole) and a clone of the second's; the
    /// remainder of 2 carries the second's original, so each item is settled
    /// exactly when its last record went out.
    #[test]
    fn notices_follow_their_records_across_parts() {
        use crate::helper::completion::Settled;
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let notice = |name: &'static str| {
            let seen = seen.clone();
            Some(Completion::new(move |s| {
                seen.lock().unwrap().push((name, s))
            }))
        };
        let now = Instant::now();
        let mut b = Batcher::new(4, Duration::from_secs(1));
        let first = Item {
            batch: logs(3),
            completion: notice("first"),
        };
        assert!(b.push(first, now).is_empty());
        let second = Item {
            batch: logs(3),
            completion: notice("second"),
        };
        let ready = b.push(second, now);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].completions.len(), 2);
        for r in ready {
            r.completions.into_iter().for_each(Completion::succeed);
        }
        assert_eq!(*seen.lock().unwrap(), vec![("first", Settled::Exported)]);
        let rest = b.flush_all();
        assert_eq!(rest[0].batch.record_count(), 2);
        assert_eq!(rest[0].completions.len(), 1);
        drop(rest);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![("first", Settled::Exported), ("second", Settled::Abandoned)]
        );
    }

    /// Scenario: batch_size 0.
    /// Guarantees: batches pass through unchanged, whatever their size.
    #[test]
    fn zero_size_passes_through() {
        let mut b = Batcher::new(0, Duration::ZERO);
        let ready = b.push(item(logs(10_000)), Instant::now());
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].batch.record_count(), 10_000);
        assert!(!b.has_pending());
    }
}
