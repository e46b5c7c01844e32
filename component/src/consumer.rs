//! How records move between components.
//!
//! A receiver (or a connector) holds an [`Output`]: one bounded channel per
//! pipeline that lists it, per signal. [`Output::send`] waits for room in
//! every target pipeline, which is how back-pressure reaches receivers that
//! can wait (OTLP answers later); [`Output::try_send`] never waits, for
//! receivers that cannot (the eBPF ring buffer), and reports what was dropped.
//!
//! A pipeline pushes its processed records into [`Consumer`]s: exporter
//! queues and connectors.

use crate::batch::{Batch, Signal};
use async_trait::async_trait;
use tokio::sync::mpsc;

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
}

/// The input end of one pipeline.
#[derive(Clone, Debug)]
pub struct PipelineSender {
    /// The pipeline id (`logs/siem`).
    pub pipeline: String,
    /// Bounded channel into the pipeline task.
    pub tx: mpsc::Sender<Batch>,
}

/// Where a receiver or connector delivers: every pipeline that lists it.
#[derive(Clone, Debug, Default)]
pub struct Output {
    logs: Vec<PipelineSender>,
    traces: Vec<PipelineSender>,
}

impl Output {
    /// An output feeding `senders`, each tagged with its signal.
    pub fn new(senders: Vec<(Signal, PipelineSender)>) -> Output {
        let mut out = Output::default();
        for (signal, sender) in senders {
            match signal {
                Signal::Logs => out.logs.push(sender),
                Signal::Traces => out.traces.push(sender),
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
        }
    }

    /// Delivers `batch` to every pipeline of its signal, waiting for room.
    /// Fails with [`ConsumeError::Closed`] only if no pipeline took it.
    pub async fn send(&self, batch: Batch) -> Result<(), ConsumeError> {
        let targets = self.targets(batch.signal());
        let Some((last, rest)) = targets.split_last() else {
            return Ok(());
        };
        let mut delivered = false;
        for t in rest {
            delivered |= t.tx.send(batch.clone()).await.is_ok();
        }
        delivered |= last.tx.send(batch).await.is_ok();
        if delivered {
            Ok(())
        } else {
            Err(ConsumeError::Closed)
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
            if t.tx.try_send(batch.clone()).is_err() {
                full += 1;
            }
        }
        if last.tx.try_send(batch).is_err() {
            full += 1;
        }
        full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender(name: &str, cap: usize) -> (PipelineSender, mpsc::Receiver<Batch>) {
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
}
