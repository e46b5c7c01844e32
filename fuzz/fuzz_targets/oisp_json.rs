//! libFuzzer entry of `oisp_json`; the body (and its input format) is
//! `oispd_fuzz_targets::oisp_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::oisp_json(data));
