//! The bodies of oispd's fuzz targets: one function per parser that takes
//! bytes from outside the process. The cargo-fuzz binaries (`fuzz/`, each
//! a one-line `fuzz_target!`) and the crash-regression tests
//! (`tests/regressions.rs`, replaying `fuzz/regressions/<target>/*` on
//! stable without libFuzzer) call the same function, so a crash found once
//! stays found by `cargo test`.
//!
//! A target returns normally for any input; a bug is a panic (an overflow
//! in a debug build, a failed property check), an abort (stack overflow) or
//! a sanitizer report. Whatever is expensive and independent of the input
//! (the provider catalogue, the redactor's compiled rules) is built once per
//! process in a `OnceLock`, so the fuzzer spends its time in the parsers.
//!
//! Targets and their input formats are listed in [`TARGETS`]; `FUZZING.md`
//! at the repository root describes how to run them.

mod capture;
mod config;
mod input;
mod kernel_record;
mod oisp_json;
mod otlp;
mod ottl;
mod redactor;
mod rules;

pub use capture::capture_decoder;
pub use config::{config_load, sensor_toml};
pub use kernel_record::kernel_record;
pub use oisp_json::oisp_json;
pub use otlp::otlp_request;
pub use ottl::ottl;
pub use redactor::{leak_form, redactor_leaks, SECRETS};
pub use rules::gitleaks_rules;

/// The body of a target: runs one input; a bug panics or aborts.
pub type Target = fn(&[u8]);

/// Every target: its name (the cargo-fuzz binary, the corpus and
/// regression directories) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("capture_decoder", capture_decoder),
    ("kernel_record", kernel_record),
    ("otlp_request", otlp_request),
    ("oisp_json", oisp_json),
    ("ottl", ottl),
    ("config_load", config_load),
    ("sensor_toml", sensor_toml),
    ("gitleaks_rules", gitleaks_rules),
    ("redactor_leaks", redactor_leaks),
];
