//! oispd's processors: what decides what is sensitive, what is a security
//! finding, and where each record goes.
//!
//! - [`redaction`]: always-on credential redaction and configurable PII
//!   masking (the `redaction` processor and the binary's always-on redactor).
//! - [`audit`]: the sentinel's hash-chained audit trail, its SQLite store,
//!   and the `oispd audit verify` / `query` functions.

pub mod audit;
pub mod ottl;
pub mod redaction;

use oispd_component::ProcessorFactory;

/// Every processor type this crate provides.
pub fn processor_factories() -> Vec<Box<dyn ProcessorFactory>> {
    vec![Box::new(redaction::processor::RedactionFactory)]
}
