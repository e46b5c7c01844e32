//! Test fixtures shared by the helper's tests: small batches and a scripted
//! exporter that fails, hangs or succeeds on demand, one call at a time or
//! (`concurrent`) several at once.

use async_trait::async_trait;
use oispd_component::{Batch, ComponentError, ConcurrentExport, ExportError, Exporter};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// `n` log records under one resource; record `i` has `time_unix_nano = i`.
pub(crate) fn logs(n: usize) -> Batch {
    Batch::Logs(vec![ResourceLogs {
        resource: Some(Resource {
            attributes: vec![KeyValue {
                key: "host.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("h".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: (0..n)
                .map(|i| LogRecord {
                    time_unix_nano: i as u64,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// `n` spans under one resource.
pub(crate) fn spans(n: usize) -> Batch {
    Batch::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![Span::default(); n],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// `n` gauges of one point each under one resource; gauge `i` is named
/// `g{i}` and has the value `i`.
pub(crate) fn metrics(n: usize) -> Batch {
    Batch::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: (0..n)
                .map(|i| Metric {
                    name: format!("g{i}"),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            value: Some(
                                opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(
                                    i as i64,
                                ),
                            ),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// What the fake exporter saw.
#[derive(Default)]
pub(crate) struct FakeState {
    /// Answers for the next export calls, in order; `Ok` once exhausted.
    pub(crate) script: VecDeque<Result<(), ExportError>>,
    /// Record counts of every export call, with its (virtual) time.
    pub(crate) calls: Vec<(usize, Instant)>,
    /// Record counts of the successful calls.
    pub(crate) delivered: Vec<usize>,
    /// Calls that came by reference (`export_ref`).
    pub(crate) by_ref: usize,
    /// Whether shutdown ran.
    pub(crate) shut_down: bool,
    /// Whether start should fail.
    pub(crate) fail_start: bool,
    /// Calls under way right now, and the most ever at once.
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
}

/// A scripted exporter; `gate`, when set, makes each call wait for a permit;
/// a call of `n` records also waits for a permit of `gates_by_size[n]` if
/// there is one, so a test releases calls in the order it likes. With
/// `concurrent`, it offers the helper a concurrent sender.
#[derive(Clone, Default)]
pub(crate) struct Fake {
    pub(crate) state: Arc<Mutex<FakeState>>,
    pub(crate) gate: Option<Arc<Semaphore>>,
    pub(crate) gates_by_size: HashMap<usize, Arc<Semaphore>>,
    pub(crate) concurrent: bool,
}

impl Fake {
    /// A fake answering with `script`, then `Ok`.
    pub(crate) fn scripted(script: Vec<Result<(), ExportError>>) -> Fake {
        let fake = Fake::default();
        fake.state.lock().unwrap_or_else(|p| p.into_inner()).script = script.into();
        fake
    }

    /// A fake whose every call waits for a permit of `gate`.
    pub(crate) fn gated(gate: Arc<Semaphore>) -> Fake {
        Fake {
            gate: Some(gate),
            ..Fake::default()
        }
    }

    /// A concurrent fake whose calls of `n` records, for each `n` in
    /// `sizes`, wait until the returned gate of that size gives a permit.
    pub(crate) fn concurrent_gated(sizes: &[usize]) -> (Fake, HashMap<usize, Arc<Semaphore>>) {
        let gates: HashMap<usize, Arc<Semaphore>> = sizes
            .iter()
            .map(|&n| (n, Arc::new(Semaphore::new(0))))
            .collect();
        let fake = Fake {
            gates_by_size: gates.clone(),
            concurrent: true,
            ..Fake::default()
        };
        (fake, gates)
    }

    /// Reads the state.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&FakeState) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Fake {
    /// One export call: recorded, gated, answered from the script.
    async fn call(&self, batch: Batch) -> Result<(), ExportError> {
        let n = batch.record_count();
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.calls.push((n, Instant::now()));
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
        }
        for gate in self.gate.iter().chain(self.gates_by_size.get(&n)) {
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight -= 1;
        let answer = state.script.pop_front().unwrap_or(Ok(()));
        if answer.is_ok() {
            state.delivered.push(n);
        }
        answer
    }
}

#[async_trait]
impl ConcurrentExport for Fake {
    async fn export_ref(&self, batch: &Batch) -> Result<(), ExportError> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).by_ref += 1;
        self.call(batch.clone()).await
    }
}

#[async_trait]
impl Exporter for Fake {
    async fn start(&mut self) -> Result<(), ComponentError> {
        if self.with(|s| s.fail_start) {
            return Err(ComponentError::Environment(
                "cannot open /nope/x.jsonl: permission denied".into(),
            ));
        }
        Ok(())
    }

    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.call(batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).by_ref += 1;
        self.call(batch.clone()).await
    }

    fn concurrent_sender(&self) -> Option<Arc<dyn ConcurrentExport>> {
        self.concurrent
            .then(|| Arc::new(self.clone()) as Arc<dyn ConcurrentExport>)
    }

    async fn shutdown(&mut self) -> Result<(), ComponentError> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shut_down = true;
        Ok(())
    }
}
