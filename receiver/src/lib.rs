//! oispd's receivers: the eBPF capture (`ebpf`), OTLP over gRPC and HTTP
//! (`otlp`) and OISP JSONL replay (`jsonl`), and the capture decoding that
//! turns TLS plaintext into OISP events.

pub mod capture;
