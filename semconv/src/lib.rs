//! `oispd-semconv`: the data model of oispd.
//!
//! - [`event`]: the OISP v0.1 envelope [`OispEvent`] with typed
//!   [`EventData`] for every event type, ULID ids and RFC 3339 timestamps.
//! - [`common`]: host, actor, process, app, web context, source, confidence.
//! - [`ai`], [`agent`], [`process`], [`file`](mod@file), [`network`]: the `data` of
//!   each event family; [`security`]: oispd's `security.finding`.
//! - [`attributes`]: attribute names of OISP (`ai.*`, `agent.*`), the OTel
//!   GenAI conventions (`gen_ai.*`), the sentinel and OTel resources.
//! - [`otel`]: the lossless OISP <-> OpenTelemetry mapping (log records,
//!   resources, GenAI client spans, JSON <-> `AnyValue`).
//! - [`providers`]: the provider catalogue (host/port -> provider, the
//!   official models.json merged over a built-in table) and model families.
//! - [`pricing`]: model prices and the cost of a response's token usage.
//! - [`schema`] (feature `schema`): validation against the official OISP
//!   JSON Schemas.
//!
//! Every type round-trips exactly through serde: unknown keys are kept in
//! flattened `extra` maps and schema numbers keep their JSON form.

pub mod agent;
pub mod ai;
pub mod attributes;
pub mod common;
pub mod event;
pub mod file;
pub mod network;
pub mod otel;
pub mod pricing;
pub mod process;
pub mod providers;
#[cfg(feature = "schema")]
pub mod schema;
pub mod security;

#[cfg(test)]
mod test_support;

pub use common::{
    CaptureMethod, Completeness, Confidence, ConfidenceLevel, RelatedEvent, Relationship, Source,
};
pub use event::{
    event_type, format_ts, format_ts_nanos, new_event_id, now_ts, parse_ts_nanos, EventData,
    OispEvent, OISP_VERSION,
};
pub use security::{SecurityFinding, Severity};

/// The `source.collector` of events oispd creates, and the OTel scope name.
pub const COLLECTOR_NAME: &str = "oispd";

/// This crate's version (`source.collector_version`, OTel scope version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
