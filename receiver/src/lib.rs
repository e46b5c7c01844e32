//! oispd's receivers: the eBPF capture (`ebpf`), OTLP over gRPC and HTTP
//! (`otlp`) and OISP JSONL replay (`jsonl`), and the capture decoding that
//! turns TLS plaintext into OISP events.

pub mod capture;
pub mod ebpf;
pub mod ebpf_receiver;
pub mod jsonl;
pub mod otlp;

use oispd_component::{ComponentError, ConfigError, ReceiverFactory};

/// Every receiver type this crate provides.
pub fn receiver_factories() -> Vec<Box<dyn ReceiverFactory>> {
    vec![
        Box::new(ebpf_receiver::EbpfFactory),
        Box::new(jsonl::JsonlFactory),
        Box::new(otlp::OtlpFactory),
    ]
}

/// Joins config errors into one build error (validation normally catches them first).
pub(crate) fn config_error(errors: Vec<ConfigError>) -> ComponentError {
    ComponentError::Config(
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}
