//! The `genai_metrics` connector's configuration.
//!
//! ```yaml
//! connectors:
//!   genai_metrics:
//!     metrics_flush_interval: 60s          # how often the cumulative metrics are emitted
//!     aggregation_cardinality_limit: 1000  # attribute sets per metric; the rest go to one overflow series
//!     prometheus: true                     # also serve them on the admin server's /metrics
//! ```

use oispd_component::ComponentConfig;
use serde::Deserialize;
use std::time::Duration;

/// Default `metrics_flush_interval`, the collector's `spanmetrics` default.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);
/// Default `aggregation_cardinality_limit`: series per metric before the
/// overflow series takes the rest.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 1000;

/// `connectors: {genai_metrics: ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenAiMetricsConfig {
    /// How often the cumulative metrics are sent into the connector's
    /// metrics pipelines (default 60s); they are sent once more when the
    /// connector stops, so nothing counted is lost.
    #[serde(with = "humantime_serde")]
    pub metrics_flush_interval: Duration,
    /// Attribute sets (series) each metric keeps at most (default 1000).
    /// Measurements of further attribute sets are added to one series per
    /// metric whose only attribute is `otel.metric.overflow: true`, as the
    /// collector's connectors do.
    pub aggregation_cardinality_limit: usize,
    /// Also serve the metrics in Prometheus text on the admin server's
    /// `/metrics` (default true). One connector per oispd can.
    pub prometheus: bool,
}

impl Default for GenAiMetricsConfig {
    fn default() -> Self {
        GenAiMetricsConfig {
            metrics_flush_interval: DEFAULT_FLUSH_INTERVAL,
            aggregation_cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            prometheus: true,
        }
    }
}

impl ComponentConfig for GenAiMetricsConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.metrics_flush_interval.is_zero() {
            problems.push("'metrics_flush_interval': must be more than 0s".to_string());
        }
        if self.aggregation_cardinality_limit == 0 {
            problems.push("'aggregation_cardinality_limit': must be at least 1".to_string());
        }
        problems
    }
}
