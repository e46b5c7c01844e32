//! libFuzzer entry of `sensor_toml`; the body (and its input format) is
//! `oispd_fuzz_targets::sensor_toml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oispd_fuzz_targets::sensor_toml(data));
