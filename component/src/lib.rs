//! The contracts that tie oispd together.
//!
//! Every receiver, processor, connector, exporter and extension is built by a
//! factory registered as data ([`factory`]), configured from a typed struct
//! parsed out of the collector-style YAML ([`config`]), and exchanges one
//! record type, the OTLP [`Batch`] ([`batch`]). Receivers push into an
//! [`Output`] that fans out to the pipelines that list them; pipelines push
//! into [`Consumer`]s (exporter queues and connectors). Internal telemetry
//! (collector metric names, exporter health) is one [`Telemetry`] value that
//! is passed in, never a global.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod batch;
pub mod config;
pub mod consumer;
pub mod exporter;
pub mod factory;
pub mod id;
pub mod private_fs;
pub mod privileges;
pub mod redaction_key;
pub mod sanitize;
pub mod telemetry;

pub use batch::{Batch, Signal};
pub use config::{parse_config, ComponentConfig, ConfigError};
pub use consumer::{Ack, ConsumeError, Consumer, Envelope, Output, PipelineSender};
pub use exporter::{ConcurrentExport, ExportError, Exporter, ExporterSettings};
pub use factory::{
    AdminRoute, BuildContext, ComponentError, ComponentInfo, ConnectorFactory, ExporterFactory,
    Extension, ExtensionFactory, Kind, Processor, ProcessorFactory, Receiver, ReceiverFactory,
    RouteAccess, Stability,
};
pub use id::ComponentId;
pub use opentelemetry_proto as proto;
pub use redaction_key::RedactionKey;
pub use telemetry::Telemetry;
