//! `config_load` and `sensor_toml`: config text as `oispd --config` reads
//! it. `config_load`: up to three YAML documents (split at NUL bytes)
//! merged in order and environment-expanded (`${VAR}`, `${env:VAR}`,
//! `$$`), then split into components and the service section.
//! `sensor_toml`: the OISP Sensor's TOML converted to collector-style YAML;
//! property: what the converter writes, oispd loads.

use oispd::config::expand::Env;
use oispd::config::{load_texts, sensor_toml::convert};

/// A fixed environment: expansion must not depend on the fuzzing host's.
struct FuzzEnv;

impl Env for FuzzEnv {
    fn var(&self, name: &str) -> Option<String> {
        match name {
            "HOST" => Some("127.0.0.1".into()),
            "PORT" => Some("4317".into()),
            "EMPTY" => Some(String::new()),
            // A value that looks like a reference must not be expanded again.
            "NESTED" => Some("${HOST}".into()),
            _ => None,
        }
    }
}

/// Loads up to three documents.
pub fn config_load(data: &[u8]) {
    let docs: Vec<String> = data
        .split(|b| *b == 0)
        .take(3)
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    let texts: Vec<(&str, &str)> = docs.iter().map(|d| ("fuzz", d.as_str())).collect();
    let _ = load_texts(&texts, &FuzzEnv);
}

/// Converts one sensor TOML file and loads the result.
pub fn sensor_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(yaml) = convert(text) else { return };
    if let Err(errors) = load_texts(&[("converted sensor TOML", &yaml)], &FuzzEnv) {
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!("the converted config does not load: {errors:?}\n{yaml}");
    }
}
