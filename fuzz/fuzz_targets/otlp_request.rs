//! libFuzzer entry of `otlp_request`; the body (and its input format) is
//! `oispd_fuzz_targets::otlp_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::otlp_request(data));
