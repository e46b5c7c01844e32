//! libFuzzer entry of `kernel_record`; the body (and its input format) is
//! `oispd_fuzz_targets::kernel_record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::kernel_record(data));
