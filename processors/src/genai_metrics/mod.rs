//! The `genai_metrics` connector: turns AI events (log records of
//! `ai.response`, `ai.embedding` and `security.finding`) into the OTel
//! GenAI metrics and oispd's own, as the collector's `spanmetrics` and
//! `count` connectors turn spans and records into metrics.
//!
//! ```yaml
//! connectors:
//!   genai_metrics: {metrics_flush_interval: 60s}
//! service:
//!   pipelines:
//!     logs: {receivers: [ebpf], exporters: [file, genai_metrics]}
//!     metrics: {receivers: [genai_metrics], exporters: [otlp_grpc/metrics]}
//! ```
//!
//! It is an exporter in logs pipelines and a receiver in metrics pipelines.
//! Measurements are aggregated cumulatively (see [`aggregate`] for the
//! metrics, their attributes and the cardinality cap) and sent into the
//! metrics pipelines every `metrics_flush_interval` and once more when the
//! logs pipelines feeding it have drained, so a finite replay ends with its
//! exact totals. With `prometheus: true` the same measurements are served
//! on the admin server's `/metrics` ([`prom`]).

pub mod aggregate;
pub mod config;
pub mod prom;

#[cfg(test)]
mod tests;

use aggregate::Aggregates;
use async_trait::async_trait;
use config::GenAiMetricsConfig;
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentInfo, ConfigError,
    ConnectorFactory, ConsumeError, Consumer, Output, Signal, Stability,
};
use prom::PromMetrics;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// The connector type name.
pub const TYPE: &str = "genai_metrics";

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Builds `genai_metrics` connectors.
pub struct GenAiMetricsFactory;

impl ConnectorFactory for GenAiMetricsFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Metrics],
            description: "Turns AI events into the OTel GenAI metrics (token usage, duration, time to first chunk) and oispd's calls, cost and findings counters",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<GenAiMetricsConfig>(config).map(|_| ())
    }

    fn referenced_pipelines(&self, _config: &Value) -> Vec<String> {
        Vec::new()
    }

    fn signal_pairs(&self) -> Vec<(Signal, Signal)> {
        vec![(Signal::Logs, Signal::Metrics)]
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        targets: BTreeMap<String, Output>,
    ) -> Result<Arc<dyn Consumer>, ComponentError> {
        let cfg: GenAiMetricsConfig = parse_config(config).map_err(|errors| {
            ComponentError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let prom = if cfg.prometheus {
            Some(PromMetrics::register(ctx.telemetry.registry()).map_err(|e| {
                ComponentError::Config(format!(
                    "connectors::{}: serving its metrics on /metrics: {e} (only one genai_metrics connector can; set prometheus: false on the others)",
                    ctx.id
                ))
            })?)
        } else {
            None
        };
        Ok(Arc::new(GenAiMetricsConnector::start(
            &cfg,
            targets.into_values().collect(),
            prom,
        )))
    }
}

/// A running connector: the aggregates, fed by [`Consumer::consume`], and
/// the task that sends them into the metrics pipelines.
pub struct GenAiMetricsConnector {
    aggregates: Arc<Mutex<Aggregates>>,
    prom: Option<PromMetrics>,
    /// Dropped with the connector: the task then sends a last time and ends.
    _stop: oneshot::Sender<()>,
}

impl GenAiMetricsConnector {
    /// Starts the emitting task (on the current Tokio runtime).
    pub fn start(
        cfg: &GenAiMetricsConfig,
        outputs: Vec<Output>,
        prom: Option<PromMetrics>,
    ) -> GenAiMetricsConnector {
        let aggregates = Arc::new(Mutex::new(Aggregates::new(
            cfg.aggregation_cardinality_limit,
            now_unix_nano(),
        )));
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(emit(
            aggregates.clone(),
            outputs,
            cfg.metrics_flush_interval,
            stopped,
        ));
        GenAiMetricsConnector {
            aggregates,
            prom,
            _stop: stop,
        }
    }
}

/// Sends the cumulative metrics every `interval`, and once more when the
/// connector is dropped; then drops the outputs, which lets the metrics
/// pipelines drain.
async fn emit(
    aggregates: Arc<Mutex<Aggregates>>,
    outputs: Vec<Output>,
    interval: Duration,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = &mut stopped => true,
        };
        let batch = {
            let a = aggregates.lock().unwrap_or_else(|p| p.into_inner());
            (!a.is_empty()).then(|| Batch::Metrics(vec![a.to_otlp(now_unix_nano())]))
        };
        if let Some(batch) = batch {
            for output in &outputs {
                if let Err(e) = output.send(batch.clone()).await {
                    tracing::debug!(error = %e, "genai_metrics: a metrics pipeline is gone");
                }
            }
        }
        if last {
            break;
        }
    }
}

#[async_trait]
impl Consumer for GenAiMetricsConnector {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        let Batch::Logs(resource_logs) = batch else {
            return Err(ConsumeError::Refused(
                "the genai_metrics connector takes logs".into(),
            ));
        };
        let mut measured = Vec::new();
        {
            let mut a = self.aggregates.lock().unwrap_or_else(|p| p.into_inner());
            for rl in &resource_logs {
                let resource = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes);
                for rec in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
                    measured.extend(a.record(resource, rec));
                }
            }
        }
        if let Some(prom) = &self.prom {
            prom.observe(&measured);
        }
        Ok(())
    }
}
