//! oispd's exporters and the exporter helper they all run behind.
//!
//! Each exporter is a module with its typed config, its factory and its
//! tests; [`exporter_factories`] is the list the binary registers. The
//! `file_storage` extension ([`file_storage`]) lives here too: it is where
//! the helper's persistent queues keep their files.

pub mod debug;
mod factory;
pub mod file;
pub mod file_storage;
pub mod helper;
pub mod kafka;
mod oisp_view;
pub mod otlp;
pub mod tls;
pub mod webhook;
pub mod websocket;

#[cfg(test)]
mod testing;

use oispd_component::ExporterFactory;

/// Every exporter type compiled into oispd.
pub fn exporter_factories() -> Vec<Box<dyn ExporterFactory>> {
    vec![
        Box::new(debug::DebugFactory),
        Box::new(file::FileFactory),
        Box::new(otlp::grpc::OtlpGrpcFactory),
        Box::new(otlp::http::OtlpHttpFactory),
        Box::new(kafka::KafkaFactory),
        Box::new(webhook::WebhookFactory),
        Box::new(websocket::WebsocketFactory),
    ]
}
