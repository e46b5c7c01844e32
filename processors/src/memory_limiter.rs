//! The `memory_limiter` processor: refuses data while the process uses more
//! memory than its soft limit (`limit` minus `spike_limit`), as the
//! collector's memorylimiterprocessor does, so that a surge ends in counted
//! drops instead of the OOM killer.
//!
//! ```yaml
//! processors:
//!   memory_limiter:
//!     check_interval: 1s           # how often RSS is measured (at most)
//!     limit_mib: 512               # hard limit
//!     spike_limit_mib: 128         # headroom; default 20% of the limit
//!     # or, relative to the cgroup limit (or host memory):
//!     # limit_percentage: 80
//!     # spike_limit_percentage: 20
//! ```
//!
//! RSS comes from `/proc/self/statm`, read at most once per `check_interval`
//! (on the data path, no timer task). While above the soft limit every batch
//! is dropped and counted in `otelcol_processor_memory_limiter_refused_*`;
//! accepted records in `..._accepted_*`. The refusing state is shared through
//! [`MemoryPressure`], which receivers can poll to stop reading early.

use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Processor, ProcessorFactory, Signal, Stability,
};
use prometheus::IntCounter;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::time::Duration;
use tokio::time::Instant;

/// The processor type name.
pub const TYPE: &str = "memory_limiter";

const MIB: u64 = 1024 * 1024;

/// The `memory_limiter` processor's configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    /// How often memory is measured, at most (default 1s).
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// Hard limit in MiB (takes precedence over `limit_percentage`).
    pub limit_mib: u64,
    /// Headroom below the hard limit in MiB (default 20% of the limit).
    pub spike_limit_mib: u64,
    /// Hard limit as a percentage of the cgroup limit or host memory.
    pub limit_percentage: u64,
    /// Headroom as a percentage of the cgroup limit or host memory.
    pub spike_limit_percentage: u64,
}

impl Default for MemoryLimiterConfig {
    fn default() -> Self {
        MemoryLimiterConfig {
            check_interval: Duration::from_secs(1),
            limit_mib: 0,
            spike_limit_mib: 0,
            limit_percentage: 0,
            spike_limit_percentage: 0,
        }
    }
}

impl ComponentConfig for MemoryLimiterConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.check_interval.is_zero() {
            problems.push("'check_interval' must be greater than zero".to_string());
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            problems.push("'limit_mib' or 'limit_percentage' must be set".to_string());
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            problems.push(
                "'limit_percentage' and 'spike_limit_percentage' must be between 0 and 100"
                    .to_string(),
            );
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            problems.push("'spike_limit_mib' must be smaller than 'limit_mib'".to_string());
        }
        if self.limit_mib == 0
            && self.limit_percentage > 0
            && self.spike_limit_percentage >= self.limit_percentage
        {
            problems.push(
                "'spike_limit_percentage' must be smaller than 'limit_percentage'".to_string(),
            );
        }
        problems
    }
}

impl MemoryLimiterConfig {
    /// The soft limit in bytes; `total` is the memory available to the
    /// process (needed only for the percentage form).
    fn soft_limit(&self, total: impl FnOnce() -> Option<u64>) -> Result<u64, String> {
        let (hard, spike) = if self.limit_mib > 0 {
            let hard = self.limit_mib * MIB;
            let spike = if self.spike_limit_mib > 0 {
                self.spike_limit_mib * MIB
            } else {
                hard / 5
            };
            (hard, spike)
        } else {
            let total = total().ok_or_else(|| {
                "cannot read the memory limit (/sys/fs/cgroup/memory.max or /proc/meminfo) needed by 'limit_percentage'; set 'limit_mib' instead".to_string()
            })?;
            let hard = total / 100 * self.limit_percentage;
            let spike = if self.spike_limit_percentage > 0 {
                total / 100 * self.spike_limit_percentage
            } else {
                hard / 5
            };
            (hard, spike)
        };
        Ok(hard.saturating_sub(spike))
    }
}

/// The process's resident set size, from `/proc/self/statm`.
pub fn process_rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident * rustix::param::page_size() as u64)
}

/// Memory available to the process: the cgroup v2 limit if there is one,
/// else the host's total memory.
fn total_memory() -> Option<u64> {
    if let Ok(max) = std::fs::read_to_string("/sys/fs/cgroup/memory.max") {
        if let Ok(limit) = max.trim().parse::<u64>() {
            return Some(limit);
        }
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub use oispd_component::telemetry::MemoryPressure;

/// Reads the current memory use in bytes.
pub type RssReader = Box<dyn FnMut() -> Option<u64> + Send>;

/// A running `memory_limiter` processor for one pipeline.
pub struct MemoryLimiter {
    id: String,
    soft_limit: u64,
    check_interval: Duration,
    next_check: Option<Instant>,
    refusing: bool,
    rss: RssReader,
    pressure: MemoryPressure,
    accepted: IntCounter,
    refused: IntCounter,
}

impl MemoryLimiter {
    fn check(&mut self) {
        let now = Instant::now();
        if self.next_check.is_some_and(|at| now < at) {
            return;
        }
        self.next_check = Some(now + self.check_interval);
        let Some(rss) = (self.rss)() else {
            return;
        };
        let refusing = rss > self.soft_limit;
        if refusing == self.refusing {
            return;
        }
        self.refusing = refusing;
        if refusing {
            self.pressure.raise();
            tracing::warn!(
                processor = %self.id,
                rss_mib = rss / MIB,
                soft_limit_mib = self.soft_limit / MIB,
                "memory above the soft limit; refusing data"
            );
        } else {
            self.pressure.release();
            tracing::info!(
                processor = %self.id,
                rss_mib = rss / MIB,
                soft_limit_mib = self.soft_limit / MIB,
                "memory back below the soft limit; accepting data"
            );
        }
    }
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        if self.refusing {
            self.pressure.release();
        }
    }
}

impl Processor for MemoryLimiter {
    fn process(&mut self, batch: Batch) -> Option<Batch> {
        self.check();
        let n = batch.record_count() as u64;
        if self.refusing {
            self.refused.inc_by(n);
            None
        } else {
            self.accepted.inc_by(n);
            Some(batch)
        }
    }
}

/// Builds `memory_limiter` processors; all of them report into the run's
/// shared [`MemoryPressure`] (`Telemetry::memory_pressure`).
#[derive(Clone, Debug, Default)]
pub struct MemoryLimiterFactory;

impl MemoryLimiterFactory {
    fn build(
        &self,
        ctx: &BuildContext,
        config: &Value,
        signal: Signal,
        rss: RssReader,
        total: impl FnOnce() -> Option<u64>,
    ) -> Result<MemoryLimiter, ComponentError> {
        let cfg: MemoryLimiterConfig = parse_config(config).map_err(|errors| {
            ComponentError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let soft_limit = cfg.soft_limit(total).map_err(ComponentError::Environment)?;
        let id = ctx.id.to_string();
        let counter = |verb: &str| {
            ctx.telemetry
                .component_counter(
                    &format!(
                        "otelcol_processor_memory_limiter_{verb}_{}",
                        signal.item_noun()
                    ),
                    &format!("Records the memory limiter {verb}."),
                    "processor",
                    &id,
                )
                .map_err(|e| {
                    ComponentError::Config(format!("registering memory_limiter metrics: {e}"))
                })
        };
        Ok(MemoryLimiter {
            soft_limit,
            check_interval: cfg.check_interval,
            next_check: None,
            refusing: false,
            rss,
            pressure: ctx.telemetry.memory_pressure(),
            accepted: counter("accepted")?,
            refused: counter("refused")?,
            id,
        })
    }
}

impl ProcessorFactory for MemoryLimiterFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Refuses data while process memory is above a soft limit",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<MemoryLimiterConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        Ok(Box::new(self.build(
            ctx,
            config,
            signal,
            Box::new(process_rss),
            total_memory,
        )?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::{counter, ctx, log, logs, yaml};
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;

    fn records(n: usize) -> Batch {
        logs(vec![(
            "h",
            vec![("s", (0..n).map(|_| log("x", 9, &[])).collect())],
        )])
    }

    /// A limiter whose RSS readings come from `rss`; returns how many reads happened.
    fn limiter(
        config: &str,
        factory: &MemoryLimiterFactory,
        rss: Arc<AtomicU64>,
    ) -> (
        MemoryLimiter,
        Arc<AtomicUsize>,
        Arc<oispd_component::Telemetry>,
    ) {
        let (ctx, telemetry) = ctx("memory_limiter");
        let reads = Arc::new(AtomicUsize::new(0));
        let r = reads.clone();
        let reader: RssReader = Box::new(move || {
            r.fetch_add(1, Ordering::Relaxed);
            Some(rss.load(Ordering::Relaxed))
        });
        let l = factory
            .build(&ctx, &yaml(config), Signal::Logs, reader, || {
                Some(1000 * MIB)
            })
            .unwrap();
        (l, reads, telemetry)
    }

    /// Scenario: memory rises above the soft limit (limit - spike) and falls back.
    /// Guarantees: batches are refused and counted only while above it; the
    /// shared pressure flag follows; RSS is read at most once per
    /// check_interval (paused clock).
    #[tokio::test(start_paused = true)]
    async fn refuses_above_the_soft_limit() {
        let rss = Arc::new(AtomicU64::new(100 * MIB));
        let factory = MemoryLimiterFactory;
        let (mut l, reads, telemetry) = limiter(
            "check_interval: 1s\nlimit_mib: 200\nspike_limit_mib: 50",
            &factory,
            rss.clone(),
        );
        let pressure = telemetry.memory_pressure();
        assert!(l.process(records(2)).is_some());
        rss.store(160 * MIB, Ordering::Relaxed);
        // Within the interval the old reading stands.
        assert!(l.process(records(1)).is_some());
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(l.process(records(3)).is_none());
        assert!(pressure.is_refusing());
        assert!(l.process(records(4)).is_none());
        assert_eq!(reads.load(Ordering::Relaxed), 2);
        rss.store(140 * MIB, Ordering::Relaxed);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(l.process(records(1)).is_some());
        assert!(!pressure.is_refusing());
        let c = |verb: &str| {
            counter(
                &telemetry,
                &format!("otelcol_processor_memory_limiter_{verb}_log_records"),
                "processor",
                "memory_limiter",
            )
        };
        assert_eq!((c("accepted"), c("refused")), (4, 7));
    }

    /// Guarantees: the spike defaults to 20% of the limit, percentages are
    /// taken of the available memory, and a dropped limiter releases the flag.
    #[tokio::test(start_paused = true)]
    async fn limits_and_pressure_release() {
        let cfg = |y: &str| -> MemoryLimiterConfig { parse_config(&yaml(y)).unwrap() };
        assert_eq!(cfg("limit_mib: 100").soft_limit(|| None).unwrap(), 80 * MIB);
        assert_eq!(
            cfg("limit_percentage: 50\nspike_limit_percentage: 10")
                .soft_limit(|| Some(1000 * MIB))
                .unwrap(),
            400 * MIB
        );
        assert!(cfg("limit_percentage: 50").soft_limit(|| None).is_err());

        let (mut l, _, telemetry) = limiter(
            "limit_mib: 10",
            &MemoryLimiterFactory,
            Arc::new(AtomicU64::new(9 * MIB)),
        );
        assert!(l.process(records(1)).is_none());
        assert!(telemetry.memory_pressure().is_refusing());
        drop(l);
        assert!(!telemetry.memory_pressure().is_refusing());
    }

    #[test]
    fn reads_this_process_rss() {
        let rss = process_rss().unwrap();
        assert!(rss > MIB, "{rss}");
    }

    #[test]
    fn validation() {
        let problems = |y: &str| -> Vec<String> {
            MemoryLimiterFactory
                .validate(&yaml(y))
                .unwrap_err()
                .into_iter()
                .map(|e| e.to_string())
                .collect()
        };
        assert_eq!(
            problems("~"),
            ["'limit_mib' or 'limit_percentage' must be set"]
        );
        assert_eq!(
            problems("check_interval: 0s\nlimit_mib: 10\nspike_limit_mib: 10"),
            [
                "'check_interval' must be greater than zero",
                "'spike_limit_mib' must be smaller than 'limit_mib'"
            ]
        );
        assert_eq!(
            problems("limit_percentage: 120"),
            ["'limit_percentage' and 'spike_limit_percentage' must be between 0 and 100"]
        );
        assert_eq!(
            problems("limit_percentage: 20\nspike_limit_percentage: 30"),
            ["'spike_limit_percentage' must be smaller than 'limit_percentage'"]
        );
        assert!(MemoryLimiterFactory
            .validate(&yaml("limit_mib: 512"))
            .is_ok());
    }
}
