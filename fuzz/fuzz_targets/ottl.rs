//! libFuzzer entry of `ottl`; the body (and its input format) is
//! `oispd_fuzz_targets::ottl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::ottl(data));
