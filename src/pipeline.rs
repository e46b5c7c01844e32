//! Assembling and running the pipelines of a validated config.
//!
//! Wiring follows the collector: one instance per receiver, exporter and
//! connector id however many pipelines use it, one processor instance per
//! pipeline. Each pipeline is a task reading a bounded channel; receivers
//! fan out into those channels, pipelines fan out into exporter queues and
//! connectors. A receiver that waits for the outcome (OTLP) sends an
//! [`Ack`] with its batch; the pipeline holds it until every consumer took
//! the batch, so the receiver answers its client only once the records are
//! in the exporters' queues. Shutdown is ownership-driven: receivers stop and drop their
//! outputs, pipelines drain and drop their consumers, connectors and
//! exporters drain in turn, so everything accepted is flushed.

use crate::config::Config;
use crate::registry::Registry;
use anyhow::{anyhow, Context};
use oispd_component::factory::AdminRoutes;
use oispd_component::telemetry::ProcessorMetrics;
use oispd_component::{
    Ack, Batch, BuildContext, ComponentId, Consumer, Envelope, Kind, Output, PipelineSender,
    Processor, RedactionKey, Signal, Telemetry,
};
use oispd_processors::redaction::Redactor;
use prometheus::IntCounter;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The directory of a persistent queue: that of the `file_storage`
/// extension `storage` names (created or checked as it says), or `storage`
/// itself when it names none (a directory path).
fn storage_directory(
    config: &Config,
    storage: Option<std::path::PathBuf>,
) -> Result<Option<std::path::PathBuf>, String> {
    use oispd_exporters::file_storage::{resolve_storage, StorageRef};
    let Some(storage) = storage else {
        return Ok(None);
    };
    match resolve_storage(&storage, |id| config.body(Kind::Extension, id))? {
        StorageRef::Directory(dir) => Ok(Some(dir)),
        StorageRef::Extension { id, config: ext } => {
            if !config.service.extensions.contains(&id) {
                return Err(format!(
                    "extension {id:?} is not enabled: list it in service::extensions"
                ));
            }
            ext.prepare_directory()
                .map(|dir| Some(dir.to_path_buf()))
                .map_err(|e| format!("extensions::{id}: {e}"))
        }
    }
}

/// Batches a pipeline's input channel holds before receivers wait. Small:
/// a batch can be a whole OTLP request (megabytes decoded), and buffering
/// belongs to the exporters' queues, which are bounded and count what they
/// drop. An OTLP receiver waits for its batch to be handed on anyway (the
/// ack); the slack is for the eBPF receiver's bursts of small batches.
const PIPELINE_CHANNEL_CAPACITY: usize = 8;

/// The running service.
pub struct Running {
    receivers: Vec<(String, JoinHandle<()>)>,
    pipelines: Vec<JoinHandle<()>>,
    exporters: Vec<(String, JoinHandle<()>)>,
    extensions: Vec<JoinHandle<()>>,
    receiver_stop: CancellationToken,
    extension_stop: CancellationToken,
    drain_deadline: CancellationToken,
}

struct PipelinePlan {
    id: String,
    signal: Signal,
    tx: mpsc::Sender<Envelope>,
    rx: mpsc::Receiver<Envelope>,
}

fn parse_id(text: &str) -> anyhow::Result<ComponentId> {
    ComponentId::parse(text).map_err(|e| anyhow!("{e}"))
}

/// What the factories get: the id, telemetry, admin routes and the
/// redaction key.
struct Shared<'a> {
    telemetry: &'a Arc<Telemetry>,
    routes: &'a AdminRoutes,
    key: &'a RedactionKey,
}

fn context(id: &ComponentId, shared: &Shared<'_>) -> BuildContext {
    BuildContext {
        id: id.clone(),
        telemetry: shared.telemetry.clone(),
        admin_routes: shared.routes.clone(),
        redaction_key: shared.key.clone(),
    }
}

/// Builds every component and starts the service. Errors name the
/// component and say what to do (a port in use, an unreadable file).
pub async fn start(
    config: &Config,
    registry: &Registry,
    telemetry: Arc<Telemetry>,
    key: RedactionKey,
) -> anyhow::Result<Running> {
    let routes: AdminRoutes = Default::default();
    let shared = Shared {
        telemetry: &telemetry,
        routes: &routes,
        key: &key,
    };
    let receiver_stop = CancellationToken::new();
    let extension_stop = CancellationToken::new();
    let drain_deadline = CancellationToken::new();

    let mut plans: Vec<PipelinePlan> = Vec::new();
    for (pid, _) in &config.service.pipelines {
        let signal = Signal::from_pipeline_type(parse_id(pid)?.type_name())
            .ok_or_else(|| anyhow!("pipeline {pid:?} has an unsupported signal"))?;
        let (tx, rx) = mpsc::channel(PIPELINE_CHANNEL_CAPACITY);
        plans.push(PipelinePlan {
            id: pid.clone(),
            signal,
            tx,
            rx,
        });
    }
    let sender_of = |pid: &str| -> Option<(Signal, PipelineSender)> {
        plans.iter().find(|p| p.id == pid).map(|p| {
            (
                p.signal,
                PipelineSender {
                    pipeline: p.id.clone(),
                    tx: p.tx.clone(),
                },
            )
        })
    };

    // Exporters: one per id used by any pipeline.
    let mut consumers: BTreeMap<ComponentId, Arc<dyn Consumer>> = BTreeMap::new();
    let mut exporters = Vec::new();
    for pipeline in config.service.pipelines.values() {
        for text in &pipeline.exporters {
            let id = parse_id(text)?;
            if consumers.contains_key(&id) || config.body(Kind::Exporter, &id).is_none() {
                continue;
            }
            let body = config
                .body(Kind::Exporter, &id)
                .cloned()
                .unwrap_or_default();
            let factory = registry
                .exporter(id.type_name())
                .ok_or_else(|| anyhow!("exporters::{id}: unknown type"))?;
            let ctx = context(&id, &shared);
            let (exporter, mut settings) = factory
                .create(&ctx, &body)
                .with_context(|| format!("exporters::{id}"))?;
            settings.queue.storage = storage_directory(config, settings.queue.storage.take())
                .map_err(|e| anyhow!("exporters::{id}::sending_queue::storage: {e}"))?;
            let (consumer, handle) = oispd_exporters::helper::start_exporter(
                &id.to_string(),
                exporter,
                settings,
                telemetry.clone(),
                drain_deadline.clone(),
            )
            .await
            .with_context(|| format!("exporters::{id}"))?;
            consumers.insert(id.clone(), consumer);
            exporters.push((id.to_string(), handle));
        }
    }

    // Connectors: targets are the pipelines that list them as receivers.
    for (id, body) in config.section(Kind::Connector) {
        let mut targets: BTreeMap<String, Output> = BTreeMap::new();
        for (pid, pipeline) in &config.service.pipelines {
            if pipeline.receivers.iter().any(|r| r == &id.to_string()) {
                if let Some(sender) = sender_of(pid) {
                    targets.insert(pid.clone(), Output::new(vec![sender]));
                }
            }
        }
        if targets.is_empty() {
            continue;
        }
        let factory = registry
            .connector(id.type_name())
            .ok_or_else(|| anyhow!("connectors::{id}: unknown type"))?;
        let ctx = context(id, &shared);
        let consumer = factory
            .create(&ctx, body, targets)
            .with_context(|| format!("connectors::{id}"))?;
        consumers.insert(id.clone(), consumer);
    }

    // Pipelines.
    let redactor = Arc::new(
        oispd_processors::redaction::always_on_redactor(&key)
            .map_err(|e| anyhow!("always-on redaction: {e}"))?,
    );
    let mut pipelines = Vec::new();
    let mut receiver_inputs: BTreeMap<ComponentId, Vec<(Signal, PipelineSender)>> = BTreeMap::new();
    for plan in plans {
        let pipeline = &config.service.pipelines[&plan.id];
        let mut processors = Vec::new();
        for text in &pipeline.processors {
            let id = parse_id(text)?;
            let body = config
                .body(Kind::Processor, &id)
                .cloned()
                .unwrap_or_default();
            let factory = registry
                .processor(id.type_name())
                .ok_or_else(|| anyhow!("processors::{id}: unknown type"))?;
            let ctx = context(&id, &shared);
            let processor = factory
                .create(&ctx, &body, plan.signal)
                .with_context(|| format!("processors::{id}"))?;
            let metrics = telemetry.processor(&id.to_string(), &plan.id, plan.signal);
            processors.push(Stage { processor, metrics });
        }
        let mut outputs = Vec::new();
        for text in &pipeline.exporters {
            let id = parse_id(text)?;
            if let Some(c) = consumers.get(&id) {
                outputs.push(c.clone());
            }
        }
        for text in &pipeline.receivers {
            let id = parse_id(text)?;
            if config.body(Kind::Receiver, &id).is_some() {
                receiver_inputs.entry(id).or_default().push((
                    plan.signal,
                    PipelineSender {
                        pipeline: plan.id.clone(),
                        tx: plan.tx.clone(),
                    },
                ));
            }
        }
        drop(plan.tx);
        let redaction = AlwaysOn {
            redactor: redactor.clone(),
            counters: RedactionCounters::new(&telemetry, &plan.id)?,
        };
        pipelines.push(tokio::spawn(run_pipeline(
            plan.id, plan.rx, processors, outputs, redaction,
        )));
    }
    drop(consumers);

    // Extensions start before receivers so their routes are live first.
    let mut extensions = Vec::new();
    for text in &config.service.extensions {
        let id = parse_id(text)?;
        let body = config
            .body(Kind::Extension, &id)
            .cloned()
            .unwrap_or_default();
        let factory = registry
            .extension(id.type_name())
            .ok_or_else(|| anyhow!("extensions::{id}: unknown type"))?;
        let ctx = context(&id, &shared);
        let ext = factory
            .create(&ctx, &body)
            .with_context(|| format!("extensions::{id}"))?;
        let handle = ext
            .start(extension_stop.clone())
            .await
            .with_context(|| format!("extensions::{id}"))?;
        extensions.push(handle);
    }

    // Receivers last: once they run, records flow.
    let mut receivers = Vec::new();
    for (id, inputs) in receiver_inputs {
        let body = config
            .body(Kind::Receiver, &id)
            .cloned()
            .unwrap_or_default();
        let factory = registry
            .receiver(id.type_name())
            .ok_or_else(|| anyhow!("receivers::{id}: unknown type"))?;
        let ctx = context(&id, &shared);
        let receiver = factory
            .create(&ctx, &body)
            .with_context(|| format!("receivers::{id}"))?;
        let handle = receiver
            .start(Output::new(inputs), receiver_stop.clone())
            .await
            .with_context(|| format!("receivers::{id}"))?;
        receivers.push((id.to_string(), handle));
    }

    Ok(Running {
        receivers,
        pipelines,
        exporters,
        extensions,
        receiver_stop,
        extension_stop,
        drain_deadline,
    })
}

impl Running {
    /// Waits until every receiver has finished on its own (finite inputs).
    /// Never returns while any receiver is unbounded.
    pub async fn receivers_finished(&mut self) {
        // Remove each handle only once it completed, so that a cancelled wait
        // never leaves a finished handle behind to be polled again.
        while let Some((_, handle)) = self.receivers.first_mut() {
            let _ = handle.await;
            self.receivers.remove(0);
        }
    }

    /// Stops receivers, drains pipelines and exporters (bounded by
    /// `timeout`), then stops extensions. Returns false if the drain timed out.
    pub async fn shutdown(mut self, timeout: Duration) -> bool {
        self.receiver_stop.cancel();
        let drain = async {
            for (id, handle) in self.receivers.drain(..) {
                if let Err(e) = handle.await {
                    tracing::warn!(receiver = %id, error = %e, "receiver task ended abnormally");
                }
            }
            for handle in self.pipelines.drain(..) {
                let _ = handle.await;
            }
            for (id, handle) in self.exporters.drain(..) {
                if let Err(e) = handle.await {
                    tracing::warn!(exporter = %id, error = %e, "exporter task ended abnormally");
                }
            }
        };
        let completed = tokio::time::timeout(timeout, drain).await.is_ok();
        if !completed {
            // Tell exporters still retrying to give up and count what is left.
            self.drain_deadline.cancel();
            tracing::warn!(
                timeout_s = timeout.as_secs_f64(),
                "shutdown timed out while flushing exporters; records still queued are dropped"
            );
        }
        self.extension_stop.cancel();
        for handle in self.extensions.drain(..) {
            let _ = handle.await;
        }
        completed
    }
}

struct Stage {
    processor: Box<dyn Processor>,
    metrics: ProcessorMetrics,
}

/// Runs `batch` through stages `from..` and returns what comes out.
fn run_stages(stages: &mut [Stage], from: usize, batch: Batch) -> Option<Batch> {
    let mut current = batch;
    for stage in stages.iter_mut().skip(from) {
        stage.metrics.incoming.inc_by(current.record_count() as u64);
        current = stage.processor.process(current)?;
        stage.metrics.outgoing.inc_by(current.record_count() as u64);
    }
    Some(current)
}

/// The always-on redactor of one pipeline and what it counts.
struct AlwaysOn {
    redactor: Arc<Redactor>,
    counters: RedactionCounters,
}

/// Counters of the always-on redactor, per pipeline.
struct RedactionCounters {
    secrets: IntCounter,
    unscanned: IntCounter,
}

impl RedactionCounters {
    fn new(telemetry: &Telemetry, pipeline: &str) -> anyhow::Result<RedactionCounters> {
        let counter = |name: &str, help: &str| {
            telemetry
                .component_counter(name, help, "pipeline", pipeline)
                .map_err(|e| anyhow!("registering {name}: {e}"))
        };
        Ok(RedactionCounters {
            secrets: counter(
                "oispd_redaction_always_on_secrets",
                "Credentials replaced by the always-on redactor at the end of the pipeline.",
            )?,
            unscanned: counter(
                "oispd_redaction_unscanned_values",
                "Values replaced unscanned because their record exceeded the redaction scan budget.",
            )?,
        })
    }
}

/// Redacts `batch` and hands it to every consumer of the pipeline, waiting
/// for each to take it. A refusal is recorded on `ack` (the receiver waiting
/// for this batch, if any) so the sender hears of it; without one the
/// consumer has already counted it.
async fn deliver(
    outputs: &[Arc<dyn Consumer>],
    redaction: &AlwaysOn,
    mut batch: Batch,
    ack: Option<&Ack>,
) {
    let stats = redaction.redactor.redact_batch(&mut batch);
    redaction.counters.secrets.inc_by(stats.secrets);
    redaction.counters.unscanned.inc_by(stats.unscanned);
    if batch.is_empty() {
        return;
    }
    let Some((last, rest)) = outputs.split_last() else {
        return;
    };
    for c in rest {
        hand_on(c.as_ref(), batch.clone(), ack).await;
    }
    hand_on(last.as_ref(), batch, ack).await;
}

async fn hand_on(consumer: &dyn Consumer, batch: Batch, ack: Option<&Ack>) {
    let Some(ack) = ack else {
        let _ = consumer.consume(batch).await;
        return;
    };
    if let Err(e) = consumer.consume_acked(batch, ack).await {
        ack.refuse(e.to_string());
    }
}

async fn run_pipeline(
    id: String,
    mut rx: mpsc::Receiver<Envelope>,
    mut stages: Vec<Stage>,
    outputs: Vec<Arc<dyn Consumer>>,
    redaction: AlwaysOn,
) {
    loop {
        let deadline = stages
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.processor.next_flush().map(|d| (d, i)))
            .min();
        let received = match deadline {
            Some((at, index)) => {
                tokio::select! {
                    b = rx.recv() => b.map(Ok),
                    _ = tokio::time::sleep_until(at) => Some(Err(index)),
                }
            }
            None => rx.recv().await.map(Ok),
        };
        match received {
            Some(Ok(Envelope { batch, ack })) => {
                // The ack is dropped once the batch is handed on, held by a
                // stage (batch) or filtered out: the receiver's wait ends.
                if let Some(out) = run_stages(&mut stages, 0, batch) {
                    deliver(&outputs, &redaction, out, ack.as_ref()).await;
                }
            }
            Some(Err(index)) => {
                if let Some(flushed) = stages[index].processor.flush() {
                    if let Some(out) = run_stages(&mut stages, index + 1, flushed) {
                        deliver(&outputs, &redaction, out, None).await;
                    }
                }
            }
            None => break,
        }
    }
    // Input closed: flush every stage in order, so nothing held is lost.
    // A stage may hand out what it holds in several pieces (batch with
    // send_batch_max_size), so each is flushed until it has nothing left.
    for index in 0..stages.len() {
        while let Some(flushed) = stages[index].processor.flush() {
            if let Some(out) = run_stages(&mut stages, index + 1, flushed) {
                deliver(&outputs, &redaction, out, None).await;
            }
        }
    }
    tracing::debug!(pipeline = %id, "pipeline drained");
}
