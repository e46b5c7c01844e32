//! The `sentinel` processor: runs the detectors over every OISP event of a
//! logs batch, chains each finding into the audit log, and appends the
//! `security.finding` records to the batch, in a scope of their own under
//! the resource of the event that triggered them. Traces pass through.
//!
//! A sentinel used in several pipelines, or several sentinels sharing a
//! store file, write one chain: the factory hands every instance with the
//! same store path (or, without a store, the same component id) the same
//! audit log.

use super::config::SentinelConfig;
use super::engine::{Finding, Sentinel};
use super::finding::{audit_entry, finding_record, security_finding};
use crate::audit::{AuditLog, NewEntry};
use oispd_component::proto::tonic::logs::v1::ScopeLogs;
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentInfo, ConfigError, Processor,
    ProcessorFactory, Signal, Stability,
};
use oispd_semconv::otel::oispd_scope;
use prometheus::IntCounter;
use serde_yaml_ng::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The processor type name.
pub const TYPE: &str = "sentinel";

/// Audit store errors are logged at most this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Builds `sentinel` processors; keeps the audit logs shared between them.
#[derive(Default)]
pub struct SentinelFactory {
    logs: Mutex<HashMap<String, Weak<Mutex<AuditLog>>>>,
}

/// Counters of one sentinel instance.
#[derive(Clone)]
pub struct SentinelMetrics {
    /// Findings emitted.
    pub findings: IntCounter,
    /// Failed writes to the audit store (entries stay queued).
    pub store_errors: IntCounter,
}

/// A running `sentinel` processor.
pub struct SentinelProcessor {
    sentinel: Sentinel,
    audit: Arc<Mutex<AuditLog>>,
    metrics: Option<SentinelMetrics>,
    last_error_log: Option<Instant>,
}

fn now_unix_micros_as_nanos() -> i64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // OISP timestamps carry microseconds; chain the same time the event shows.
    i64::try_from(nanos / 1000 * 1000).unwrap_or(i64::MAX)
}

impl SentinelProcessor {
    /// A processor over `sentinel` writing to `audit`; `metrics` may be
    /// absent (tests, benchmarks).
    pub fn new(
        sentinel: Sentinel,
        audit: Arc<Mutex<AuditLog>>,
        metrics: Option<SentinelMetrics>,
    ) -> SentinelProcessor {
        SentinelProcessor {
            sentinel,
            audit,
            metrics,
            last_error_log: None,
        }
    }

    fn note_store_error(&mut self, e: &crate::audit::AuditError, pending: usize) {
        if let Some(m) = &self.metrics {
            m.store_errors.inc();
        }
        if self
            .last_error_log
            .is_none_or(|t| t.elapsed() >= ERROR_LOG_INTERVAL)
        {
            self.last_error_log = Some(Instant::now());
            tracing::error!(error = %e, pending, "sentinel: writing the audit store failed; findings are queued");
        }
    }
}

impl Processor for SentinelProcessor {
    fn process(&mut self, mut batch: Batch) -> Option<Batch> {
        let Batch::Logs(resources) = &mut batch else {
            return Some(batch);
        };
        // (resource index, scope index, record index, finding)
        let mut found: Vec<(usize, usize, usize, Finding)> = Vec::new();
        for (ri, r) in resources.iter().enumerate() {
            for (si, s) in r.scope_logs.iter().enumerate() {
                for (li, rec) in s.log_records.iter().enumerate() {
                    for f in self.sentinel.inspect(rec) {
                        found.push((ri, si, li, f));
                    }
                }
            }
        }
        if found.is_empty() {
            return Some(batch);
        }
        let ts = now_unix_micros_as_nanos();
        let mut datas = Vec::with_capacity(found.len());
        let mut entries: Vec<NewEntry> = Vec::with_capacity(found.len());
        for (_, _, _, f) in &found {
            let sf = security_finding(f, &oispd_semconv::new_event_id());
            entries.push(audit_entry(f, &sf, ts));
            datas.push(sf);
        }
        let outcome = match self.audit.lock() {
            Ok(mut log) => {
                let outcome = log.append(entries);
                let pending = log.pending();
                (outcome, pending)
            }
            Err(poisoned) => {
                let mut log = poisoned.into_inner();
                let outcome = log.append(entries);
                let pending = log.pending();
                (outcome, pending)
            }
        };
        let (outcome, pending) = outcome;
        if let Some(e) = &outcome.store_error {
            self.note_store_error(e, pending);
        }
        let mut per_resource: HashMap<usize, Vec<_>> = HashMap::new();
        for (((ri, si, li, _), sf), entry) in found.iter().zip(datas).zip(outcome.entries.iter()) {
            let trigger = &resources[*ri].scope_logs[*si].log_records[*li];
            let body = trigger
                .body
                .as_ref()
                .and_then(super::event::kv_of)
                .unwrap_or(&[]);
            per_resource
                .entry(*ri)
                .or_default()
                .push(finding_record(sf, entry, trigger, body));
        }
        if let Some(m) = &self.metrics {
            m.findings.inc_by(found.len() as u64);
        }
        let mut indexes: Vec<usize> = per_resource.keys().copied().collect();
        indexes.sort_unstable();
        for ri in indexes {
            if let Some(records) = per_resource.remove(&ri) {
                resources[ri].scope_logs.push(ScopeLogs {
                    scope: Some(oispd_scope()),
                    log_records: records,
                    schema_url: String::new(),
                });
            }
        }
        Some(batch)
    }
}

fn config_error(errs: Vec<ConfigError>) -> ComponentError {
    ComponentError::Config(
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

impl SentinelFactory {
    /// The audit log for `key`, shared with live instances using the same.
    fn audit_log(
        &self,
        key: String,
        config: &SentinelConfig,
    ) -> Result<Arc<Mutex<AuditLog>>, ComponentError> {
        let mut logs = self
            .logs
            .lock()
            .map_err(|_| ComponentError::Config("sentinel audit logs lock poisoned".into()))?;
        if let Some(log) = logs.get(&key).and_then(Weak::upgrade) {
            return Ok(log);
        }
        let log = match &config.store {
            Some(store) => AuditLog::open(store).map_err(|e| {
                ComponentError::Environment(format!("{e}; check that the directory is writable"))
            })?,
            None => AuditLog::in_memory(),
        };
        let log = Arc::new(Mutex::new(log));
        logs.insert(key, Arc::downgrade(&log));
        Ok(log)
    }
}

impl ProcessorFactory for SentinelFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Security detectors (SEC-NN) over OISP events; findings as security.finding records in a hash-chained audit trail",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<SentinelConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        _signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        let config: SentinelConfig = parse_config(config).map_err(config_error)?;
        let sentinel = Sentinel::new(&config, &ctx.redaction_key)
            .map_err(|e| ComponentError::Config(e.to_string()))?;
        let id = ctx.id.to_string();
        let key = match &config.store {
            Some(s) => format!("store:{}", s.path.display()),
            None => format!("memory:{id}"),
        };
        let audit = self.audit_log(key, &config)?;
        let counter = |name: &str, help: &str| {
            ctx.telemetry
                .component_counter(name, help, "processor", &id)
                .map_err(|e| ComponentError::Config(format!("registering sentinel metrics: {e}")))
        };
        let metrics = SentinelMetrics {
            findings: counter(
                "oispd_sentinel_findings",
                "Security findings emitted by the sentinel processor.",
            )?,
            store_errors: counter(
                "oispd_sentinel_audit_store_errors",
                "Failed writes to the sentinel's audit store (entries are kept and retried).",
            )?,
        };
        Ok(Box::new(SentinelProcessor::new(
            sentinel,
            audit,
            Some(metrics),
        )))
    }
}
