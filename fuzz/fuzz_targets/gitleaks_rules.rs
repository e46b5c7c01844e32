//! libFuzzer entry of `gitleaks_rules`; the body (and its input format) is
//! `oispd_fuzz_targets::gitleaks_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::gitleaks_rules(data));
