//! libFuzzer entry of `redactor_leaks`; the body (and its input format) is
//! `oispd_fuzz_targets::redactor_leaks`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::redactor_leaks(data));
