//! oispd's processors: what decides what is sensitive, what is a security
//! finding, and where each record goes.
//!
//! - [`redaction`]: always-on credential redaction and configurable PII
//!   masking (the `redaction` processor and the binary's always-on redactor).
//! - [`audit`]: the sentinel's hash-chained audit trail, its SQLite store,
//!   and the `oispd audit verify` / `query` functions.
//! - [`sentinel`]: the security detectors (SEC-NN) and their findings.
//! - [`genai_metrics`]: the connector that turns AI events into the OTel
//!   GenAI metrics and oispd's calls, cost and findings counters.

pub mod audit;
pub mod batch;
pub mod filter;
pub mod genai_metrics;
pub mod memory_limiter;
pub mod ottl;
pub mod redaction;
pub mod routing;
pub mod sentinel;
#[cfg(test)]
mod test_support;
pub mod transform;

use oispd_component::{ConnectorFactory, ProcessorFactory};

/// Every processor type this crate provides.
pub fn processor_factories() -> Vec<Box<dyn ProcessorFactory>> {
    vec![
        Box::new(redaction::processor::RedactionFactory),
        Box::new(sentinel::SentinelFactory::default()),
        Box::new(filter::FilterFactory),
        Box::new(transform::TransformFactory),
        Box::new(batch::BatchFactory),
        Box::new(memory_limiter::MemoryLimiterFactory),
    ]
}

/// Every connector type this crate provides.
pub fn connector_factories() -> Vec<Box<dyn ConnectorFactory>> {
    vec![
        Box::new(routing::RoutingFactory),
        Box::new(genai_metrics::GenAiMetricsFactory),
    ]
}
