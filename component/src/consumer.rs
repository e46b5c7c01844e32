//! How records move between components.
//!
//! A receiver (or a connector) holds an [`Output`]: one bounded channel per
//! pipeline that lists it, per signal. [`Output::send`] waits for room in
//! every target pipeline, which is how back-pressure reaches receivers that
//! can wait; [`Output::try_send`] never waits, for receivers that cannot
//! (the eBPF ring buffer), and reports what was dropped.
//! [`Output::send_acked`] goes further and waits until every pipeline has
//! handed the batch to its exporters' queues (or to a stage that holds
//! records, such as `batch`): an OTLP receiver answers its client only
//! then, so a record acknowledged to a sender is in a sending queue (on
//! disk, for a persistent one), and a slow exporter slows the senders
//! instead of piling requests up in memory.
//!
//! A pipeline pushes its processed records into [`Consumer`]s: exporter
//! queues and connectors.

use crate::batch::{Batch, Signal};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Why a consumer did not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// Every downstream pipeline is gone (shutting down).
    #[error("pipeline closed")]
    Closed,
    /// The consumer refused the batch (queue full, memory limit).
    #[error("refused: {0}")]
    Refused(String),
}

/// Takes batches from a pipeline: an exporter's queue or a connector.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Accepts `batch`; may wait for room when the consumer applies back-pressure.
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError>;

    /// Accepts `batch` on behalf of a receiver waiting on `ack`. A consumer
    /// that passes records on to other pipelines (a connector) keeps a clone
    /// of `ack` with them, so the receiver's wait covers those pipelines
    /// too; the default is [`Consumer::consume`], for consumers where taking
    /// the batch is the end of the pipeline's part (exporter queues).
    async fn consume_acked(&self, batch: Batch, ack: &Ack) -> Result<(), ConsumeError> {
        let _ = ack;
        self.consume(batch).await
    }
}

/// The outcome a receiver waits for in [`Output::send_acked`]. Every
/// pipeline (and connector) the batch reaches holds a clone while it works
/// on it; the outcome is settled when the last clone is dropped: accepted,
/// unless some consumer called [`Ack::refuse`].
#[derive(Clone, Debug)]
pub struct Ack(Arc<AckState>);

#[derive(Debug)]
struct AckState {
    refused: Mutex<Option<String>>,
    settle: Option<oneshot::Sender<Option<String>>>,
}

impl Drop for AckState {
    fn drop(&mut self) {
        let refused = self
            .refused
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|p| p.into_inner().take());
        if let Some(settle) = self.settle.take() {
            // The receiver may have stopped waiting (its client went away).
            let _ = settle.send(refused);
        }
    }
}

impl Ack {
    /// A new outcome and the waiting end of it, which yields the first
    /// refusal (or `None`) once every clone of the ack is dropped.
    pub fn new() -> (Ack, oneshot::Receiver<Option<String>>) {
        let (settle, outcome) = oneshot::channel();
        let state = AckState {
            refused: Mutex::new(None),
            settle: Some(settle),
        };
        (Ack(Arc::new(state)), outcome)
    }

    /// Records that a consumer did not take the batch; the first reason is
    /// what the receiver reports.
    pub fn refuse(&self, reason: impl Into<String>) {
        let mut refused = self.0.refused.lock().unwrap_or_else(|p| p.into_inner());
        if refused.is_none() {
            *refused = Some(reason.into());
        }
    }
}

/// What travels on a pipeline's input channel: a batch and, when its
/// receiver waits for the outcome, the [`Ack`] to hold while working on it.
#[derive(Debug)]
pub struct Envelope {
    /// The records.
    pub batch: Batch,
    /// Dropped once the pipeline has handed the batch on.
    pub ack: Option<Ack>,
}

impl From<Batch> for Envelope {
    fn from(batch: Batch) -> Envelope {
        Envelope { batch, ack: None }
    }
}

/// The input end of one pipeline.
#[derive(Clone, Debug)]
pub struct PipelineSender {
    /// The pipeline id (`logs/siem`).
    pub pipeline: String,
    /// Bounded channel into the pipeline task.
    pub tx: mpsc::Sender<Envelope>,
}

/// Where a receiver or connector delivers: every pipeline that lists it.
#[derive(Clone, Debug, Default)]
pub struct Output {
    logs: Vec<PipelineSender>,
    traces: Vec<PipelineSender>,
    metrics: Vec<PipelineSender>,
}

impl Output {
    /// An output feeding `senders`, each tagged with its signal.
    pub fn new(senders: Vec<(Signal, PipelineSender)>) -> Output {
        let mut out = Output::default();
        for (signal, sender) in senders {
            match signal {
                Signal::Logs => out.logs.push(sender),
                Signal::Traces => out.traces.push(sender),
                Signal::Metrics => out.metrics.push(sender),
            }
        }
        out
    }

    /// True when at least one pipeline wants `signal`; receivers skip work
    /// (such as building spans) nobody consumes.
    pub fn wants(&self, signal: Signal) -> bool {
        !self.targets(signal).is_empty()
    }

    /// The pipeline ids fed with `signal`.
    pub fn pipelines(&self, signal: Signal) -> impl Iterator<Item = &str> {
        self.targets(signal).iter().map(|s| s.pipeline.as_str())
    }

    fn targets(&self, signal: Signal) -> &[PipelineSender] {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
        }
    }

    /// Delivers `batch` to every pipeline of its signal, waiting for room.
    /// Fails with [`ConsumeError::Closed`] only if no pipeline took it.
    pub async fn send(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.send_with(batch, None).await
    }

    /// Delivers `batch` like [`Output::send`], each pipeline holding a clone
    /// of `ack` (if any) while it works on the batch: how a connector passes
    /// its receiver's wait on to the pipelines it feeds.
    pub async fn send_with(&self, batch: Batch, ack: Option<Ack>) -> Result<(), ConsumeError> {
        let targets = self.targets(batch.signal());
        let Some((last, rest)) = targets.split_last() else {
            return Ok(());
        };
        let mut delivered = false;
        for t in rest {
            let envelope = Envelope {
                batch: batch.clone(),
                ack: ack.clone(),
            };
            delivered |= t.tx.send(envelope).await.is_ok();
        }
        delivered |= last.tx.send(Envelope { batch, ack }).await.is_ok();
        if delivered {
            Ok(())
        } else {
            Err(ConsumeError::Closed)
        }
    }

    /// Delivers `batch` to every pipeline of its signal and waits until each
    /// has handed it on: to its exporters' sending queues, to a connector's
    /// pipelines in turn, or to a stage that holds records (`batch`), or
    /// dropped it on purpose (a filter). Fails with
    /// [`ConsumeError::Refused`] when a consumer refused it (a queue that
    /// cannot take it, an exporter that failed with its queue disabled) and
    /// [`ConsumeError::Closed`] when no pipeline took it.
    pub async fn send_acked(&self, batch: Batch) -> Result<(), ConsumeError> {
        let (ack, outcome) = Ack::new();
        self.send_with(batch, Some(ack)).await?;
        match outcome.await {
            Ok(Some(reason)) => Err(ConsumeError::Refused(reason)),
            // Settled without refusal; a dropped sender cannot happen, as
            // the state sends on drop.
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// Delivers without waiting. Returns how many pipelines had no room (the
    /// batch is dropped for those and the caller counts it).
    pub fn try_send(&self, batch: Batch) -> usize {
        let targets = self.targets(batch.signal());
        let Some((last, rest)) = targets.split_last() else {
            return 0;
        };
        let mut full = 0;
        for t in rest {
            if t.tx.try_send(batch.clone().into()).is_err() {
                full += 1;
            }
        }
        if last.tx.try_send(batch.into()).is_err() {
            full += 1;
        }
        full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str, cap: usize) -> (PipelineSender, mpsc::Receiver<Envelope>) {
        let (tx, rx) = mpsc::channel(cap);
        (
            PipelineSender {
                pipeline: name.into(),
                tx,
            },
            rx,
        )
    }

    #[tokio::test]
    async fn fans_out_to_every_pipeline_of_the_signal() {
        let (a, mut ra) = sender("logs/a", 4);
        let (b, mut rb) = sender("logs/b", 4);
        let (t, mut rt) = sender("traces", 4);
        let out = Output::new(vec![
            (Signal::Logs, a),
            (Signal::Logs, b),
            (Signal::Traces, t),
        ]);
        assert!(out.send(Batch::Logs(vec![])).await.is_ok());
        assert!(ra.try_recv().is_ok());
        assert!(rb.try_recv().is_ok());
        assert!(rt.try_recv().is_err());
        assert!(out.wants(Signal::Traces));
    }

    #[tokio::test]
    async fn try_send_counts_full_pipelines() {
        let (a, _ra) = sender("logs/a", 1);
        let out = Output::new(vec![(Signal::Logs, a)]);
        assert_eq!(out.try_send(Batch::Logs(vec![])), 0);
        assert_eq!(out.try_send(Batch::Logs(vec![])), 1);
    }

    #[tokio::test]
    async fn send_fails_when_all_pipelines_closed() {
        let (a, ra) = sender("logs/a", 1);
        drop(ra);
        let out = Output::new(vec![(Signal::Logs, a)]);
        assert!(matches!(
            out.send(Batch::Logs(vec![])).await,
            Err(ConsumeError::Closed)
        ));
    }

    /// `send_acked` of one batch into two pipelines: the waiting sender and
    /// the envelope each pipeline received.
    async fn send_acked_to_two_pipelines() -> (
        tokio::task::JoinHandle<Result<(), ConsumeError>>,
        Envelope,
        Envelope,
    ) {
        let (a, mut ra) = sender("logs/a", 4);
        let (b, mut rb) = sender("logs/b", 4);
        let out = Output::new(vec![(Signal::Logs, a), (Signal::Logs, b)]);
        let waiting = tokio::spawn(async move { out.send_acked(Batch::Logs(vec![])).await });
        let first = ra.recv().await.expect("pipeline a gets the batch");
        let second = rb.recv().await.expect("pipeline b gets the batch");
        (waiting, first, second)
    }

    /// Scenario: a batch goes to two pipelines with `send_acked`.
    /// Guarantees: the sender waits until both pipelines dropped their
    /// envelope (handed the batch on), not merely until the channels took it.
    #[tokio::test]
    async fn send_acked_waits_for_every_pipeline() {
        let (waiting, first, second) = send_acked_to_two_pipelines().await;
        assert!(first.ack.is_some() && second.ack.is_some());
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "pipeline b still holds the batch");
        drop(second);
        assert!(waiting.await.expect("task").is_ok());
    }

    /// Scenario: one pipeline's consumer refuses the batch.
    /// Guarantees: the sender gets that refusal (the first reason), even
    /// though another pipeline took it.
    #[tokio::test]
    async fn send_acked_reports_a_refusal() {
        let (waiting, first, second) = send_acked_to_two_pipelines().await;
        if let Some(ack) = &second.ack {
            ack.refuse("queue full");
            ack.refuse("second reason");
        }
        drop((first, second));
        match waiting.await.expect("task") {
            Err(ConsumeError::Refused(reason)) => assert_eq!(reason, "queue full"),
            other => panic!("expected the refusal, got {other:?}"),
        }
    }

    /// Scenario: `send` and `try_send` (receivers that do not wait).
    /// Guarantees: their envelopes carry no ack.
    #[tokio::test]
    async fn plain_sends_carry_no_ack() {
        let (a, mut ra) = sender("logs/a", 4);
        let out = Output::new(vec![(Signal::Logs, a)]);
        out.send(Batch::Logs(vec![])).await.expect("sent");
        out.try_send(Batch::Logs(vec![]));
        assert!(ra.recv().await.expect("first").ack.is_none());
        assert!(ra.recv().await.expect("second").ack.is_none());
    }
}
