//! libFuzzer entry of `capture_decoder`; the body (and its input format) is
//! `oispd_fuzz_targets::capture_decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::capture_decoder(data));
