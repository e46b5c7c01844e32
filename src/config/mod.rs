//! Loading oispd's collector-style configuration: reading one or more
//! `--config` files, merging them as the collector does (maps deep-merged,
//! lists replaced, later files win), expanding environment references, and
//! splitting the document into component sections and the service.

pub mod expand;
mod merge;
pub mod sensor_toml;
#[cfg(feature = "pipeline")]
pub mod validate;

use indexmap::IndexMap;
use oispd_component::{ComponentId, ConfigError, Kind};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// The embedded default configuration used when oispd runs without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// A loaded, expanded configuration, not yet validated against the registry.
#[derive(Debug, Default)]
pub struct Config {
    /// `receivers`, `processors`, `exporters`, `connectors`, `extensions`:
    /// id -> raw body, in file order.
    pub components: [IndexMap<ComponentId, Value>; 5],
    /// The `service` section.
    pub service: ServiceConfig,
}

/// The sections in the order of [`Config::components`].
pub const KINDS: [Kind; 5] = [
    Kind::Receiver,
    Kind::Processor,
    Kind::Exporter,
    Kind::Connector,
    Kind::Extension,
];

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Receiver => 0,
        Kind::Processor => 1,
        Kind::Exporter => 2,
        Kind::Connector => 3,
        Kind::Extension => 4,
    }
}

impl Config {
    /// Components of `kind`.
    pub fn section(&self, kind: Kind) -> &IndexMap<ComponentId, Value> {
        &self.components[kind_index(kind)]
    }

    /// The body of component `id` in `kind`'s section.
    pub fn body(&self, kind: Kind, id: &ComponentId) -> Option<&Value> {
        self.section(kind).get(id)
    }
}

/// `service`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Extensions to run.
    pub extensions: Vec<String>,
    /// Pipelines by id (`logs`, `logs/siem`, `traces`).
    pub pipelines: IndexMap<String, PipelineConfig>,
    /// oispd's own logging.
    pub telemetry: TelemetryConfig,
}

/// One pipeline.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Receiver or connector ids feeding the pipeline.
    pub receivers: Vec<String>,
    /// Processor ids, applied in order.
    pub processors: Vec<String>,
    /// Exporter or connector ids the pipeline sends to.
    pub exporters: Vec<String>,
}

/// `service.telemetry`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `logs`.
    pub logs: TelemetryLogs,
}

/// `service.telemetry.logs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryLogs {
    /// `debug`, `info` (default), `warn`, `error`.
    pub level: String,
}

impl Default for TelemetryLogs {
    fn default() -> Self {
        TelemetryLogs {
            level: "info".to_string(),
        }
    }
}

/// Reads, merges and expands config files, in order; without any, the
/// embedded default config. A `.toml` file is the OISP Sensor's config and
/// runs as its collector-style equivalent.
pub fn load(paths: &[impl AsRef<Path>], env: &dyn expand::Env) -> Result<Config, Vec<ConfigError>> {
    if paths.is_empty() {
        return load_texts(&[("the embedded default config", DEFAULT_CONFIG)], env);
    }
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigError::new(
                &[],
                format!(
                    "cannot read config file {}: {e}; check the path given to --config",
                    path.display()
                ),
            )]
        })?;
        // The OISP Sensor's TOML runs as its equivalent collector-style pipeline.
        let text = if path.extension().is_some_and(|e| e == "toml") {
            sensor_toml::convert(&text)
                .map_err(|e| vec![ConfigError::new(&[], format!("{}: {e}", path.display()))])?
        } else {
            text
        };
        texts.push((path.display().to_string(), text));
    }
    let texts: Vec<(&str, &str)> = texts
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    load_texts(&texts, env)
}

/// Merges and expands config documents held in memory: `(name, YAML)`
/// pairs, the name being what errors call the document. What [`load`]
/// does once the files are read.
pub fn load_texts(
    texts: &[(&str, &str)],
    env: &dyn expand::Env,
) -> Result<Config, Vec<ConfigError>> {
    let mut merged = Value::Mapping(Mapping::new());
    for (name, text) in texts {
        let doc = parse_yaml(text, name)?;
        merge::merge(&mut merged, doc);
    }
    let mut errors: Vec<ConfigError> = expand::expand_value(&mut merged, env, &mut Vec::new())
        .into_iter()
        .map(|m| ConfigError::new(&[], m))
        .collect();
    match split(merged) {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// Parses one config document (YAML) from an in-memory string.
#[cfg(test)]
fn load_str(text: &str, env: &dyn expand::Env) -> Result<Config, Vec<ConfigError>> {
    load_texts(&[("config", text)], env)
}

fn parse_yaml(text: &str, what: &str) -> Result<Value, Vec<ConfigError>> {
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        vec![ConfigError::new(
            &[],
            format!("cannot parse {what} as YAML: {e}"),
        )]
    })?;
    match value {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        v @ Value::Mapping(_) => Ok(v),
        _ => Err(vec![ConfigError::new(
            &[],
            format!("{what}: the top level must be a map of sections (receivers, exporters, service, ...)"),
        )]),
    }
}

/// Splits a merged document into sections, reporting unknown top-level keys
/// and malformed ids.
fn split(doc: Value) -> Result<Config, Vec<ConfigError>> {
    let Value::Mapping(top) = doc else {
        return Err(vec![ConfigError::new(
            &[],
            "the configuration must be a map",
        )]);
    };
    let mut config = Config::default();
    let mut errors = Vec::new();
    let mut unknown = Vec::new();
    for (key, value) in top {
        let Some(key) = key.as_str().map(str::to_string) else {
            unknown.push(format!("{key:?}"));
            continue;
        };
        if key == "service" {
            match serde_path_to_error_service(value) {
                Ok(s) => config.service = s,
                Err(e) => errors.push(e),
            }
            continue;
        }
        let Some(kind) = KINDS.iter().copied().find(|k| k.section() == key) else {
            unknown.push(key);
            continue;
        };
        let map = match value {
            Value::Null => Mapping::new(),
            Value::Mapping(m) => m,
            _ => {
                errors.push(ConfigError::new(&[&key], "must be a map of component ids"));
                continue;
            }
        };
        for (id, body) in map {
            let id_text = id.as_str().unwrap_or_default().to_string();
            match ComponentId::parse(&id_text) {
                Ok(parsed) => {
                    config.components[kind_index(kind)].insert(parsed, body);
                }
                Err(e) => errors.push(ConfigError::new(&[&key], e)),
            }
        }
    }
    if !unknown.is_empty() {
        errors.insert(
            0,
            ConfigError::new(&[], format!("'' has invalid keys: {}", unknown.join(", "))),
        );
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

fn serde_path_to_error_service(value: Value) -> Result<ServiceConfig, ConfigError> {
    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Service(ServiceConfig);
    impl oispd_component::ComponentConfig for Service {}
    oispd_component::parse_config::<Service>(&value)
        .map(|s| s.0)
        .map_err(|mut e| e.remove(0).prefixed(&["service"]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct NoEnv;
    impl expand::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }

    #[test]
    fn embedded_default_config_loads() {
        let c = load(&[] as &[&str], &NoEnv).unwrap();
        assert!(!c.service.pipelines.is_empty());
        assert!(!c.section(Kind::Exporter).is_empty());
    }

    #[test]
    fn unknown_top_level_keys_are_errors() {
        let e = load_str("recievers: {}\nservice: {}", &NoEnv).unwrap_err();
        assert_eq!(e[0].to_string(), "'' has invalid keys: recievers");
    }

    #[test]
    fn unknown_service_keys_name_the_path() {
        let e = load_str("service: {pipelines: {logs: {recevers: [x]}}}", &NoEnv).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "service: 'pipelines.logs' has invalid keys: recevers"
        );
    }

    #[test]
    fn multiple_files_merge_maps_and_replace_lists() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(
            &a,
            "exporters: {file: {path: a.jsonl, append: true}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [file, debug]}}}",
        )
        .unwrap();
        std::fs::write(
            &b,
            "exporters: {file: {path: b.jsonl}}\nservice: {pipelines: {logs: {exporters: [file]}}}",
        )
        .unwrap();
        let c = load(&[a, b], &NoEnv).unwrap();
        let file = c
            .body(Kind::Exporter, &ComponentId::parse("file").unwrap())
            .unwrap();
        assert_eq!(file["path"], Value::String("b.jsonl".into()));
        assert_eq!(file["append"], Value::Bool(true));
        let logs = &c.service.pipelines["logs"];
        assert_eq!(logs.receivers, vec!["otlp"]);
        assert_eq!(logs.exporters, vec!["file"]);
    }

    /// Scenario: a config of 2,000 nested flow sequences and of 300
    /// nested block maps.
    /// Guarantees: serde_yaml_ng's recursion limit refuses them with an
    /// error (so the recursive expansion and merge never see a deep tree),
    /// instead of overflowing the stack.
    #[test]
    fn deeply_nested_yaml_is_an_error() {
        let flow = format!("a: {}{}", "[".repeat(2_000), "]".repeat(2_000));
        let block: String = (0..300).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        for text in [flow, block] {
            let e = load_str(&text, &NoEnv).unwrap_err();
            assert!(
                e[0].to_string().contains("recursion limit exceeded"),
                "{}",
                e[0]
            );
        }
    }

    #[test]
    fn missing_file_says_what_to_do() {
        let e = load(&["/nonexistent/oispd.yaml"], &NoEnv).unwrap_err();
        assert!(e[0]
            .to_string()
            .contains("cannot read config file /nonexistent/oispd.yaml"));
    }
}
