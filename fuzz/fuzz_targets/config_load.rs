//! libFuzzer entry of `config_load`; the body (and its input format) is
//! `oispd_fuzz_targets::config_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::config_load(data));
