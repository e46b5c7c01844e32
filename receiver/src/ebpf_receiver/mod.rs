//! The `ebpf` receiver: the kernel capture ([`crate::ebpf`]) and the
//! capture decoder ([`crate::capture`]) wired into a pipeline receiver.
//!
//! Every AI API call made by a process on the host becomes `ai.request` /
//! `ai.response` (and `ai.embedding`, `agent.tool_call`, ...) events;
//! process, network and file activity of AI agents (or of every process,
//! or none: `activity`) becomes `process.*`, `network.*` and `file.*`
//! (`file.open`, `file.read`, `file.write`, `file.delete`, `file.rename`)
//! events; every event carries the host, the process (pid, ppid, exe,
//! name, cmdline), its user, and its container and pod (UID from the
//! cgroup; namespace, pod and container names from the kubelet's log
//! directories, `kubelet_log_dir`). With a `traces`
//! pipeline, each call also yields a GenAI client span.
//!
//! Back-pressure: events are batched briefly (`batch`) and pushed with
//! [`Output::send`], which waits for room in every pipeline. While it
//! waits, the capture is not drained, the kernel ring buffer fills, and
//! what the kernel cannot queue is dropped there and counted; nothing
//! grows without bound in user space. A memory limiter above its limit
//! makes the receiver drop batches instead of sending them. Every loss is
//! counted by reason in `oispd_receiver_ebpf_dropped_records` and
//! `oispd_receiver_ebpf_dropped_bytes` (see [`metrics`]).
//!
//! Module map: [`config`] (settings), `assembler` (records to events),
//! `activity` (activity events and enrichment), `reads` (a file's reads
//! merged into one `file.read`), `agents` (agent marks and held activity),
//! `procs` (process table), `pods` (pod names on the node), `host` (host facts), `spans` (request/response
//! pairing), [`metrics`] (loss accounting), `probe_report` (binaries
//! probed and binaries doing TLS that cannot be hooked: the
//! `oispd_ebpf_tls_unhooked_binaries` metric and the `/api/health` entry).

mod activity;
mod agents;
mod assembler;
pub mod config;
mod host;
pub mod metrics;
mod pods;
mod probe_report;
mod procs;
mod reads;
mod spans;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use oispd_component::privileges::RequiredCapability;
use oispd_component::telemetry::{MemoryPressure, ReceiverMetrics};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentInfo, ConfigError, Output,
    Receiver, ReceiverFactory, Signal, Stability,
};
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::providers::ProviderCatalog;
use serde_yaml_ng::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use config::EbpfReceiverConfig;

use crate::capture::CaptureDecoder;
use crate::ebpf::EbpfCapture;
use activity::MonoClock;
use agents::Agents;
use assembler::Assembler;
use metrics::{DropMetrics, RecordLoss};
use probe_report::ProbeReport;

/// How often idle decoder state and held activity are expired and the
/// loss counters brought up to date.
const TICK: Duration = Duration::from_secs(1);
/// Records handled per pass of the run loop at most, so that a full ring
/// does not hold off shutdown, flushes and ticks.
const DRAIN_MAX: usize = 1024;

/// Builds `ebpf` receivers.
pub struct EbpfFactory;

impl ReceiverFactory for EbpfFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "ebpf",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Captures AI API calls at the TLS boundary and AI agents' process, network and file activity with eBPF, as OISP events (and GenAI spans)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<EbpfReceiverConfig>(config).map(|_| ())
    }

    fn capabilities(&self) -> &'static [RequiredCapability] {
        &crate::ebpf::REQUIRED_CAPABILITIES
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Receiver>, ComponentError> {
        let config = parse_config::<EbpfReceiverConfig>(config).map_err(crate::config_error)?;
        let id = ctx.id.to_string();
        let mut catalog = match &config.providers.catalog {
            Some(path) => ProviderCatalog::load_models_json(path).map_err(|e| {
                ComponentError::Environment(format!(
                    "cannot load the provider catalogue (receivers::{id}::providers::catalog): {e}"
                ))
            })?,
            None => ProviderCatalog::builtin(),
        };
        if let Some(path) = &config.providers.pricing_file {
            catalog.merge_pricing_file(path).map_err(|e| {
                ComponentError::Environment(format!(
                    "cannot load the pricing file (receivers::{id}::providers::pricing_file): {e}"
                ))
            })?;
        }
        let drops = DropMetrics::new(&ctx.telemetry, &id)
            .map_err(|e| ComponentError::Config(format!("metrics: {e}")))?;
        let report = ProbeReport::new(ctx.telemetry.clone(), &id)
            .map_err(|e| ComponentError::Config(format!("metrics: {e}")))?;
        Ok(Box::new(EbpfReceiver {
            logs: ctx.telemetry.receiver(&id, Signal::Logs),
            traces: ctx.telemetry.receiver(&id, Signal::Traces),
            pressure: ctx.telemetry.memory_pressure(),
            id,
            config,
            catalog,
            drops,
            report,
        }))
    }
}

struct EbpfReceiver {
    id: String,
    config: EbpfReceiverConfig,
    catalog: ProviderCatalog,
    drops: DropMetrics,
    report: ProbeReport,
    logs: ReceiverMetrics,
    traces: ReceiverMetrics,
    pressure: MemoryPressure,
}

#[async_trait]
impl Receiver for EbpfReceiver {
    async fn start(
        self: Box<Self>,
        output: Output,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        // The capture's ring buffer is registered with the runtime that
        // will poll it: the receiver's own, on its own thread (see `run_on_own_thread`).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ComponentError::Environment(format!("ebpf receiver runtime: {e}")))?;
        let started = {
            let _entered = runtime.enter();
            EbpfCapture::start(&self.config.capture_config())
        };
        let capture = match started {
            Ok(capture) => capture,
            Err(e) => {
                // Dropping a runtime blocks, which is not allowed inside the
                // pipeline's runtime; it holds no tasks yet, so let it go.
                runtime.shutdown_background();
                return Err(ComponentError::Environment(e.to_string()));
            }
        };
        let host = host::host_facts(Path::new("/"));
        let mut decoder_config = self.config.decoder_config();
        decoder_config.host = Some(host.clone());
        let this = *self;
        let assembler = Assembler::new(
            CaptureDecoder::new(decoder_config, this.catalog),
            procs::system_table(&this.config.kubelet_log_dir),
            Agents::new(this.config.agent_lookback),
            this.config.activity,
            host,
            output.wants(Signal::Traces),
        );
        tracing::info!(
            receiver = %this.id,
            probed_files = capture.probed_binaries().len(),
            activity = ?this.config.activity,
            "ebpf receiver started"
        );
        let run = Run {
            id: this.id,
            batch_max: this.config.batch.max_events.max(1),
            batch_timeout: this.config.batch.timeout,
            drops: this.drops,
            report: this.report,
            logs: this.logs,
            traces: this.traces,
            pressure: this.pressure,
            output,
        };
        run_on_own_thread(runtime, run.run(capture, assembler, shutdown))
    }
}

/// Runs the receiver on a thread of its own, with its own runtime, and
/// returns a handle that completes when it stops.
///
/// The ring buffer must be drained within milliseconds whatever the
/// pipeline's tasks are doing: on the shared runtime, timers and readiness
/// are only seen when a worker parks on the I/O driver, and records waited
/// unread for tens of milliseconds while the workers were busy or parked
/// elsewhere. A dedicated thread is always parked on its own driver.
fn run_on_own_thread(
    runtime: tokio::runtime::Runtime,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, ComponentError> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("oispd-ebpf".into())
        .spawn(move || {
            runtime.block_on(task);
            let _ = done_tx.send(());
        })
        .map_err(|e| ComponentError::Environment(format!("ebpf receiver thread: {e}")))?;
    Ok(tokio::spawn(async move {
        let _ = done_rx.await;
    }))
}

/// The receiver's task state besides the capture and the assembler.
struct Run {
    id: String,
    batch_max: usize,
    batch_timeout: Duration,
    drops: DropMetrics,
    report: ProbeReport,
    logs: ReceiverMetrics,
    traces: ReceiverMetrics,
    pressure: MemoryPressure,
    output: Output,
}

impl Run {
    async fn run(
        mut self,
        mut capture: EbpfCapture,
        mut asm: Assembler,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush_at: Option<Instant> = None;
        let mut file_path_unknown_seen = 0;
        loop {
            // `capture.next()` is cancel-safe: records are taken from the
            // ring only between its await points, so losing the race to
            // another branch loses nothing.
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = sleep_until(flush_at) => {
                    flush_at = None;
                    if !self.flush(&mut asm).await {
                        break;
                    }
                }
                _ = tick.tick() => {
                    asm.tick(MonoClock::now_mono());
                    self.account(&capture, &asm, &mut file_path_unknown_seen);
                    let s = asm.state_sizes();
                    tracing::debug!(
                        receiver = %self.id,
                        connections = s.connections,
                        decoder_bytes = s.decoder_bytes,
                        processes = s.processes,
                        held_activity = s.held_activity,
                        read_runs = s.read_runs,
                        pending_requests = s.pending_requests,
                        "ebpf receiver state"
                    );
                }
                record = capture.next() => match record {
                    Some(r) => {
                        asm.handle(r);
                        // What else is ready is taken in the same pass (a
                        // trip through `select!` re-arms every branch).
                        for _ in 1..DRAIN_MAX {
                            if asm.pending() >= self.batch_max {
                                break;
                            }
                            let Some(r) = capture.try_next() else { break };
                            asm.handle(r);
                        }
                    }
                    None => {
                        tracing::error!(receiver = %self.id, "the ebpf ring buffer failed; the receiver stops capturing");
                        break;
                    }
                },
            }
            for pid in asm.take_new_agents() {
                capture.trace_pid(pid);
            }
            if asm.pending() >= self.batch_max {
                flush_at = None;
                if !self.flush(&mut asm).await {
                    break;
                }
            } else if asm.pending() > 0 && flush_at.is_none() {
                flush_at = Some(Instant::now() + self.batch_timeout);
            }
        }
        asm.finish();
        self.flush(&mut asm).await;
        self.account(&capture, &asm, &mut file_path_unknown_seen);
        let k = capture.dropped();
        tracing::info!(
            receiver = %self.id,
            events = asm.decoder_stats().events,
            tls_records_dropped = k.tls_records,
            activity_records_dropped = k.activity_records,
            "ebpf receiver stopped"
        );
    }

    /// Brings the loss counters up to date.
    fn account(&mut self, capture: &EbpfCapture, asm: &Assembler, file_seen: &mut u64) {
        self.drops
            .sync(&capture.dropped(), asm.decoder_stats(), asm.spans_evicted());
        self.report.sync(
            capture.probed_binaries(),
            capture.unhooked_binaries(),
            &capture.unhooked_counts(),
        );
        let unknown = asm.file_path_unknown();
        if unknown > *file_seen {
            self.drops
                .add(RecordLoss::FilePathUnknown, unknown - *file_seen);
            *file_seen = unknown;
        }
    }

    /// Sends what is ready; false once every pipeline is gone.
    async fn flush(&mut self, asm: &mut Assembler) -> bool {
        let events = asm.take_events();
        let spans = asm.take_spans();
        let (n_events, n_spans) = (events.len() as u64, spans.len() as u64);
        if n_events + n_spans == 0 {
            return true;
        }
        if self.pressure.is_refusing() {
            self.drops.add(RecordLoss::MemoryLimit, n_events + n_spans);
            self.logs.refused.inc_by(n_events);
            self.traces.refused.inc_by(n_spans);
            return true;
        }
        if n_events > 0 && self.output.wants(Signal::Logs) {
            let batch = Batch::Logs(events_to_resource_logs(events));
            if self.output.send(batch).await.is_err() {
                self.logs.refused.inc_by(n_events);
                self.drops.add(RecordLoss::PipelineClosed, n_events);
                return false;
            }
            self.logs.accepted.inc_by(n_events);
        }
        if n_spans > 0 {
            let batch = Batch::Traces(spans::resource_spans(spans));
            if self.output.send(batch).await.is_err() {
                self.traces.refused.inc_by(n_spans);
                self.drops.add(RecordLoss::PipelineClosed, n_spans);
                return false;
            }
            self.traces.accepted.inc_by(n_spans);
        }
        true
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
