//! oispd's exporters and the exporter helper they all run behind.
//!
//! Each exporter is a module with its typed config, its factory and its
//! tests; [`exporter_factories`] is the list the binary registers.

pub mod helper;
pub mod kafka;
mod oisp_view;

use oispd_component::ExporterFactory;

/// Every exporter type compiled into oispd.
pub fn exporter_factories() -> Vec<Box<dyn ExporterFactory>> {
    vec![
        Box::new(kafka::KafkaFactory),
    ]
}
