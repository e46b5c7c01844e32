//! The OISP Sensor's TOML config, converted into the equivalent oispd
//! pipeline in collector-style YAML: the `ebpf` receiver feeding every
//! enabled `[export.*]` section.
//!
//! | Sensor | oispd |
//! |---|---|
//! | `[export.jsonl]` | `file` exporter, `format: oisp_jsonl`, `append: true` unless the Sensor says otherwise, `create_directory: true` |
//! | `[export.websocket]` | `websocket` exporter; its port becomes the admin endpoint |
//! | `[export.otlp]` | `otlp_grpc` or `otlp_http` (`protocol`); `service_name` sets `service.name` with a `transform` processor in its own pipeline |
//! | `[export.kafka]` | `kafka` exporter, `logs.encoding: oisp_json` (one OISP event per message, as the Sensor writes; the exporter's own default is the collector's `otlp_proto`) |
//! | `[export.webhook]` | `webhook` exporter |
//!
//! A section without `enabled` counts as enabled (its presence asks for
//! it); `enabled = false` leaves it out. Unknown keys are errors naming the
//! key, so are the Sensor's sections that have no export meaning here
//! (`[capture]`, `[redaction]`, ...): oispd configures those on its
//! receiver and processors instead. Where the Sensor has a setting oispd
//! does not (`pretty`, count-based retries), the output says what it did
//! in a comment at the top. `$` in values is written as `$$`, so that
//! oispd's environment expansion keeps it literal.

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;

/// Sections of the Sensor's config that do not describe exports.
const NON_EXPORT_SECTIONS: &[(&str, &str)] = &[
    ("sensor", "set the log level with RUST_LOG"),
    (
        "capture",
        "configure the ebpf receiver (include, exclude, libraries)",
    ),
    ("redaction", "configure the redaction processor"),
    (
        "web",
        "the live page is served by the websocket exporter on the admin endpoint",
    ),
    ("correlation", "oispd links requests and responses itself"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SensorToml {
    #[serde(default)]
    export: Export,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Export {
    jsonl: Option<Jsonl>,
    websocket: Option<Websocket>,
    otlp: Option<Otlp>,
    kafka: Option<Kafka>,
    webhook: Option<Webhook>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Jsonl {
    enabled: Option<bool>,
    path: Option<String>,
    append: Option<bool>,
    pretty: Option<bool>,
    flush_each: Option<bool>,
    rotate_size_mb: Option<u64>,
    rotate_count: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Websocket {
    enabled: Option<bool>,
    host: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Otlp {
    enabled: Option<bool>,
    endpoint: Option<String>,
    protocol: Option<String>,
    service_name: Option<String>,
    batch_size: Option<u64>,
    flush_interval_ms: Option<u64>,
    headers: BTreeMap<String, String>,
    tls_cert_path: Option<String>,
    insecure: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Kafka {
    enabled: Option<bool>,
    brokers: Option<String>,
    topic: Option<String>,
    batch_size: Option<u64>,
    flush_interval_ms: Option<u64>,
    compression: Option<String>,
    acks: Option<toml::Value>,
    security_protocol: Option<String>,
    sasl_mechanism: Option<String>,
    sasl_username: Option<String>,
    sasl_password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Webhook {
    enabled: Option<bool>,
    url: Option<String>,
    method: Option<String>,
    batch_size: Option<u64>,
    flush_interval_ms: Option<u64>,
    headers: BTreeMap<String, String>,
    timeout_ms: Option<u64>,
    retry_count: Option<u64>,
}

/// Converts the OISP Sensor's TOML into oispd's collector-style YAML.
/// Errors name the offending key (with its line for TOML errors).
pub fn convert(toml_text: &str) -> Result<String, String> {
    let table: toml::Table = toml_text
        .parse()
        .map_err(|e: toml::de::Error| format!("invalid sensor TOML: {e}"))?;
    for key in table.keys() {
        if key == "export" {
            continue;
        }
        return Err(match NON_EXPORT_SECTIONS.iter().find(|(s, _)| s == key) {
            Some((_, what)) => format!(
                "sensor TOML: section [{key}] is not converted ({what}); remove it to convert the exports"
            ),
            None => format!("sensor TOML: unknown key `{key}` (expected [export.*] sections)"),
        });
    }
    let cfg: SensorToml =
        toml::from_str(toml_text).map_err(|e| format!("invalid sensor TOML: {e}"))?;
    Builder::default().build(&cfg.export)
}

/// Accumulates the YAML sections and the notes about lossy settings.
#[derive(Default)]
struct Builder {
    exporters: Mapping,
    processors: Mapping,
    extensions: Mapping,
    main_exporters: Vec<String>,
    otlp_pipeline: Option<(String, String)>,
    notes: Vec<String>,
}

fn on(enabled: Option<bool>) -> bool {
    enabled != Some(false)
}

fn s(v: &str) -> Value {
    // oispd expands ${...} in values; a literal $ is written $$.
    Value::String(v.replace('$', "$$"))
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in entries {
        m.insert(Value::String(k.to_string()), v);
    }
    Value::Mapping(m)
}

fn insert(m: &mut Value, key: &str, v: Value) {
    if let Value::Mapping(m) = m {
        m.insert(Value::String(key.to_string()), v);
    }
}

fn ms(n: u64) -> Value {
    Value::String(format!("{n}ms"))
}

fn headers(h: &BTreeMap<String, String>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in h {
        m.insert(Value::String(k.clone()), s(v));
    }
    Value::Mapping(m)
}

impl Builder {
    fn build(mut self, e: &Export) -> Result<String, String> {
        if let Some(j) = e.jsonl.as_ref().filter(|j| on(j.enabled)) {
            self.jsonl(j);
        }
        if let Some(w) = e.websocket.as_ref().filter(|w| on(w.enabled)) {
            self.websocket(w);
        }
        if let Some(o) = e.otlp.as_ref().filter(|o| on(o.enabled)) {
            self.otlp(o)?;
        }
        if let Some(k) = e.kafka.as_ref().filter(|k| on(k.enabled)) {
            self.kafka(k)?;
        }
        if let Some(w) = e.webhook.as_ref().filter(|w| on(w.enabled)) {
            self.webhook(w)?;
        }
        if self.main_exporters.is_empty() && self.otlp_pipeline.is_none() {
            return Err("sensor TOML: no [export.*] section is enabled".to_string());
        }
        Ok(self.render())
    }

    fn jsonl(&mut self, j: &Jsonl) {
        // OISP JSONL, appended, its directory created unless told
        // otherwise, as the Sensor writes it; each said explicitly since the
        // file exporter's defaults are the collector's.
        let mut body = map([
            (
                "path",
                s(j.path.as_deref().unwrap_or("./oisp-events.jsonl")),
            ),
            ("format", s("oisp_jsonl")),
            ("append", Value::Bool(j.append.unwrap_or(true))),
            ("create_directory", Value::Bool(true)),
        ]);
        if j.flush_each == Some(true) {
            insert(&mut body, "flush_interval", s("0s"));
        }
        if j.rotate_size_mb.is_some() || j.rotate_count.is_some() {
            let mut rot = Value::Mapping(Mapping::new());
            if let Some(mb) = j.rotate_size_mb {
                insert(&mut rot, "max_megabytes", Value::from(mb));
            }
            if let Some(n) = j.rotate_count {
                insert(&mut rot, "max_backups", Value::from(n));
            }
            insert(&mut body, "rotation", rot);
        }
        if j.pretty == Some(true) {
            self.notes.push(
                "[export.jsonl] pretty = true: oispd writes one event per line (JSONL) so that `jq` and line tools work"
                    .to_string(),
            );
        }
        self.add_exporter("file", body);
    }

    fn websocket(&mut self, w: &Websocket) {
        let host = w.host.as_deref().unwrap_or("127.0.0.1");
        let port = w.port.unwrap_or(7777);
        self.extensions.insert(
            Value::String("admin".into()),
            map([("endpoint", s(&format!("{host}:{port}")))]),
        );
        self.add_exporter("websocket", Value::Mapping(Mapping::new()));
    }

    fn otlp(&mut self, o: &Otlp) -> Result<(), String> {
        let (kind, default_endpoint) = match o.protocol.as_deref().unwrap_or("grpc") {
            "grpc" => ("otlp_grpc", "http://localhost:4317"),
            "http" | "http/protobuf" => ("otlp_http", "http://localhost:4318"),
            other => {
                return Err(format!(
                    "sensor TOML: export.otlp.protocol {other:?} is not grpc or http"
                ))
            }
        };
        let endpoint = o.endpoint.as_deref().unwrap_or(default_endpoint);
        let mut body = map([("endpoint", s(endpoint))]);
        if !o.headers.is_empty() {
            insert(&mut body, "headers", headers(&o.headers));
        }
        let mut tls = Mapping::new();
        if let Some(ca) = &o.tls_cert_path {
            tls.insert(Value::String("ca_file".into()), s(ca));
        }
        if o.insecure == Some(true) && kind == "otlp_grpc" && !endpoint.contains("://") {
            tls.insert(Value::String("insecure".into()), Value::Bool(true));
        }
        if !tls.is_empty() {
            insert(&mut body, "tls", Value::Mapping(tls));
        }
        if let Some(n) = o.batch_size {
            insert(&mut body, "batch_size", Value::from(n));
        }
        if let Some(n) = o.flush_interval_ms {
            insert(&mut body, "flush_interval", ms(n));
        }
        match &o.service_name {
            Some(name) => {
                // service.name for the OTLP export only: its own pipeline
                // with a transform, so the other exports keep the process
                // name oispd puts there.
                let statement = format!(
                    "set(resource.attributes[\"service.name\"], {})",
                    serde_json::to_string(name).map_err(|e| e.to_string())?
                );
                self.processors.insert(
                    Value::String("transform/otlp".into()),
                    map([("log_statements", Value::Sequence(vec![s(&statement)]))]),
                );
                self.exporters.insert(Value::String(kind.into()), body);
                self.otlp_pipeline = Some((kind.to_string(), "transform/otlp".to_string()));
            }
            None => self.add_exporter(kind, body),
        }
        Ok(())
    }

    fn kafka(&mut self, k: &Kafka) -> Result<(), String> {
        let mut body = map([(
            "brokers",
            s(k.brokers.as_deref().unwrap_or("localhost:9092")),
        )]);
        let mut logs = map([("encoding", s("oisp_json"))]);
        if let Some(t) = &k.topic {
            insert(&mut logs, "topic", s(t));
        }
        insert(&mut body, "logs", logs);
        if let Some(n) = k.batch_size {
            insert(&mut body, "batch_size", Value::from(n));
        }
        if let Some(n) = k.flush_interval_ms {
            insert(&mut body, "flush_interval", ms(n));
        }
        let mut producer = Mapping::new();
        if let Some(c) = &k.compression {
            let c = c.to_ascii_lowercase();
            if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&c.as_str()) {
                return Err(format!(
                    "sensor TOML: export.kafka.compression {c:?} is not none, gzip, snappy, lz4 or zstd"
                ));
            }
            producer.insert(Value::String("compression".into()), Value::String(c));
        }
        if let Some(a) = &k.acks {
            let acks = match a {
                toml::Value::Integer(i) if [0, 1, -1].contains(i) => Value::from(*i),
                toml::Value::String(v) if matches!(v.as_str(), "all" | "0" | "1" | "-1") => {
                    Value::String(v.clone())
                }
                other => {
                    return Err(format!(
                        "sensor TOML: export.kafka.acks {other} is not 0, 1, -1 or \"all\""
                    ))
                }
            };
            producer.insert(Value::String("required_acks".into()), acks);
        }
        if !producer.is_empty() {
            insert(&mut body, "producer", Value::Mapping(producer));
        }
        let protocol = k
            .security_protocol
            .as_deref()
            .map(str::to_ascii_uppercase)
            .unwrap_or_else(|| {
                if k.sasl_mechanism.is_some() {
                    "SASL_PLAINTEXT".into()
                } else {
                    "PLAINTEXT".into()
                }
            });
        let (sasl, tls) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (false, true),
            "SASL_PLAINTEXT" => (true, false),
            "SASL_SSL" => (true, true),
            other => {
                return Err(format!(
                    "sensor TOML: export.kafka.security_protocol {other:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
                ))
            }
        };
        if sasl {
            let mechanism = k
                .sasl_mechanism
                .as_deref()
                .map(str::to_ascii_uppercase)
                .unwrap_or_else(|| "PLAIN".into());
            if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&mechanism.as_str()) {
                return Err(format!(
                    "sensor TOML: export.kafka.sasl_mechanism {mechanism:?} is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                ));
            }
            let (Some(user), Some(password)) = (&k.sasl_username, &k.sasl_password) else {
                return Err(format!(
                    "sensor TOML: export.kafka.security_protocol {protocol} needs sasl_username and sasl_password"
                ));
            };
            insert(
                &mut body,
                "auth",
                map([(
                    "sasl",
                    map([
                        ("mechanism", Value::String(mechanism)),
                        ("username", s(user)),
                        ("password", s(password)),
                    ]),
                )]),
            );
        } else if k.sasl_mechanism.is_some() || k.sasl_username.is_some() {
            return Err(format!(
                "sensor TOML: export.kafka.sasl_* is set but security_protocol is {protocol}"
            ));
        }
        if tls {
            insert(&mut body, "tls", Value::Mapping(Mapping::new()));
        }
        self.add_exporter("kafka", body);
        Ok(())
    }

    fn webhook(&mut self, w: &Webhook) -> Result<(), String> {
        let Some(url) = &w.url else {
            return Err("sensor TOML: export.webhook.url is required".to_string());
        };
        let mut body = map([("endpoint", s(url))]);
        if let Some(m) = &w.method {
            insert(&mut body, "method", Value::String(m.to_ascii_uppercase()));
        }
        if !w.headers.is_empty() {
            insert(&mut body, "headers", headers(&w.headers));
        }
        if let Some(n) = w.batch_size {
            insert(&mut body, "batch_size", Value::from(n));
        }
        if let Some(n) = w.flush_interval_ms {
            insert(&mut body, "flush_interval", ms(n));
        }
        if let Some(n) = w.timeout_ms {
            insert(&mut body, "timeout", ms(n));
        }
        if let Some(n) = w.retry_count {
            insert(&mut body, "retry_on_failure", retry_for_count(n));
            if n > 0 {
                self.notes.push(format!(
                    "[export.webhook] retry_count = {n}: oispd retries for a time instead; {} covers about {n} retries (1s, doubling, at most 30s apart)",
                    humantime::format_duration(backoff_total(n))
                ));
            }
        }
        self.add_exporter("webhook", body);
        Ok(())
    }

    fn add_exporter(&mut self, kind: &str, body: Value) {
        self.exporters.insert(Value::String(kind.into()), body);
        self.main_exporters.push(kind.to_string());
    }

    fn render(self) -> String {
        let mut root = Mapping::new();
        root.insert(
            Value::String("receivers".into()),
            map([("ebpf", Value::Mapping(Mapping::new()))]),
        );
        if !self.processors.is_empty() {
            root.insert(
                Value::String("processors".into()),
                Value::Mapping(self.processors),
            );
        }
        root.insert(
            Value::String("exporters".into()),
            Value::Mapping(self.exporters),
        );
        let mut service = Mapping::new();
        if !self.extensions.is_empty() {
            let names: Vec<Value> = self.extensions.keys().cloned().collect();
            root.insert(
                Value::String("extensions".into()),
                Value::Mapping(self.extensions),
            );
            service.insert(Value::String("extensions".into()), Value::Sequence(names));
        }
        let names =
            |v: &[String]| Value::Sequence(v.iter().map(|n| Value::String(n.clone())).collect());
        let mut pipelines = Mapping::new();
        if !self.main_exporters.is_empty() {
            pipelines.insert(
                Value::String("logs".into()),
                map([
                    ("receivers", names(&["ebpf".to_string()])),
                    ("exporters", names(&self.main_exporters)),
                ]),
            );
        }
        if let Some((exporter, processor)) = &self.otlp_pipeline {
            pipelines.insert(
                Value::String("logs/otlp".into()),
                map([
                    ("receivers", names(&["ebpf".to_string()])),
                    ("processors", names(std::slice::from_ref(processor))),
                    ("exporters", names(std::slice::from_ref(exporter))),
                ]),
            );
        }
        service.insert(Value::String("pipelines".into()), Value::Mapping(pipelines));
        root.insert(Value::String("service".into()), Value::Mapping(service));
        let yaml = serde_yaml_ng::to_string(&Value::Mapping(root)).unwrap_or_default();
        let mut out =
            String::from("# Converted from the OISP Sensor's TOML by `oispd config convert`.\n");
        for n in &self.notes {
            out.push_str("# Note: ");
            out.push_str(n);
            out.push('\n');
        }
        out.push_str(&yaml);
        out
    }
}

/// The waits, in seconds, of `n` retries spaced 1s, doubling, at most 30s apart.
fn backoff_waits(n: u64) -> impl Iterator<Item = u64> {
    (0..n.min(64)).map(|i| (1u64 << i.min(5)).min(30))
}

/// The total wait of `n` retries.
fn backoff_total(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(backoff_waits(n).sum())
}

/// `retry_on_failure` that approximates `n` retries.
fn retry_for_count(n: u64) -> Value {
    if n == 0 {
        return map([("enabled", Value::Bool(false))]);
    }
    map([
        ("enabled", Value::Bool(true)),
        ("initial_interval", s("1s")),
        ("multiplier", Value::from(2.0)),
        // The longest of the n waits: max_elapsed_time must not be below it.
        (
            "max_interval",
            Value::String(format!("{}s", backoff_waits(n).max().unwrap_or(1))),
        ),
        (
            "max_elapsed_time",
            Value::String(format!("{}s", backoff_total(n).as_secs())),
        ),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(&convert(text).unwrap_or_else(|e| panic!("{e}"))).unwrap()
    }

    /// Every section of the issue's list, all keys set.
    const FULL: &str = r#"
[export.jsonl]
enabled = true
path = "/var/lib/oisp/events.jsonl"
append = true
pretty = true
flush_each = true
rotate_size_mb = 50
rotate_count = 3

[export.websocket]
enabled = true
port = 7788

[export.otlp]
enabled = true
endpoint = "https://otel.example:4317"
protocol = "grpc"
service_name = "oisp-sensor"
batch_size = 200
flush_interval_ms = 500
headers = { "x-tenant" = "acme" }
tls_cert_path = "/etc/ssl/ca.pem"

[export.kafka]
enabled = true
brokers = "k1:9092,k2:9092"
topic = "oisp-events"
batch_size = 100
flush_interval_ms = 250
compression = "snappy"
acks = "all"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "sensor"
sasl_password = "pa$$word"

[export.webhook]
enabled = true
url = "https://hooks.example/oisp"
method = "PUT"
batch_size = 50
flush_interval_ms = 2000
headers = { Authorization = "Bearer t0k" }
timeout_ms = 3000
retry_count = 3
"#;

    /// Scenario: a config with every section and key.
    /// Guarantees: each maps to its oispd component and key; the pipeline
    /// is ebpf -> every export, OTLP in its own pipeline with service.name.
    #[test]
    fn full_config_maps_every_key() {
        let v = yaml(FULL);
        assert_eq!(v["receivers"]["ebpf"], Value::Mapping(Mapping::new()));
        let f = &v["exporters"]["file"];
        assert_eq!(f["path"], "/var/lib/oisp/events.jsonl");
        assert_eq!(f["append"], true);
        assert_eq!(f["flush_interval"], "0s");
        assert_eq!(f["rotation"]["max_megabytes"], 50);
        assert_eq!(f["rotation"]["max_backups"], 3);
        assert_eq!(v["extensions"]["admin"]["endpoint"], "127.0.0.1:7788");
        assert_eq!(v["service"]["extensions"][0], "admin");
        let o = &v["exporters"]["otlp_grpc"];
        assert_eq!(o["endpoint"], "https://otel.example:4317");
        assert_eq!(o["headers"]["x-tenant"], "acme");
        assert_eq!(o["tls"]["ca_file"], "/etc/ssl/ca.pem");
        assert_eq!(o["batch_size"], 200);
        assert_eq!(o["flush_interval"], "500ms");
        assert_eq!(
            v["processors"]["transform/otlp"]["log_statements"][0],
            "set(resource.attributes[\"service.name\"], \"oisp-sensor\")"
        );
        let k = &v["exporters"]["kafka"];
        assert_eq!(k["brokers"], "k1:9092,k2:9092");
        assert_eq!(k["logs"]["topic"], "oisp-events");
        assert_eq!(k["logs"]["encoding"], "oisp_json");
        assert_eq!(k["producer"]["compression"], "snappy");
        assert_eq!(k["producer"]["required_acks"], "all");
        assert_eq!(k["auth"]["sasl"]["mechanism"], "SCRAM-SHA-512");
        assert_eq!(
            k["auth"]["sasl"]["password"], "pa$$$$word",
            "$ kept literal"
        );
        assert_eq!(k["tls"], Value::Mapping(Mapping::new()));
        assert_eq!(k["flush_interval"], "250ms");
        let w = &v["exporters"]["webhook"];
        assert_eq!(w["endpoint"], "https://hooks.example/oisp");
        assert_eq!(w["method"], "PUT");
        assert_eq!(w["timeout"], "3000ms");
        assert_eq!(w["headers"]["Authorization"], "Bearer t0k");
        assert_eq!(w["retry_on_failure"]["max_elapsed_time"], "7s");
        let main: Vec<&str> = v["service"]["pipelines"]["logs"]["exporters"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(main, ["file", "websocket", "kafka", "webhook"]);
        let otlp = &v["service"]["pipelines"]["logs/otlp"];
        assert_eq!(otlp["receivers"][0], "ebpf");
        assert_eq!(otlp["processors"][0], "transform/otlp");
        assert_eq!(otlp["exporters"][0], "otlp_grpc");
        let text = convert(FULL).unwrap();
        assert!(
            text.contains("# Note: [export.jsonl] pretty = true"),
            "{text}"
        );
        assert!(
            text.contains("# Note: [export.webhook] retry_count = 3"),
            "{text}"
        );
    }

    /// Scenario: the converted YAML goes through oispd's own loading and
    /// every component body through its factory's validation.
    /// Guarantees: the output is a config oispd accepts (the `ebpf`
    /// receiver is checked by type name only).
    #[test]
    #[cfg(feature = "pipeline")]
    fn output_loads_and_each_component_validates() {
        use crate::config::{expand::ProcessEnv, load_str};
        use crate::registry::Registry;
        use oispd_component::Kind;
        let text = convert(FULL).unwrap();
        let config = load_str(&text, &ProcessEnv).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let registry = Registry::builtin();
        for (id, body) in config.section(Kind::Exporter) {
            let f = registry
                .exporter(id.type_name())
                .unwrap_or_else(|| panic!("no exporter {id}"));
            f.validate(body).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        }
        for (id, body) in config.section(Kind::Processor) {
            let f = registry.processor(id.type_name()).unwrap();
            f.validate(body).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        }
        for (id, body) in config.section(Kind::Extension) {
            let f = registry.extension(id.type_name()).unwrap();
            f.validate(body).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        }
        let receivers: Vec<String> = config
            .section(Kind::Receiver)
            .keys()
            .map(|id| id.to_string())
            .collect();
        assert_eq!(receivers, ["ebpf"]);
    }

    /// Scenario: the smallest useful configs and disabled sections.
    /// Guarantees: defaults fill in; `enabled = false` leaves a section out;
    /// nothing enabled is an error.
    #[test]
    fn enabled_flags_and_defaults() {
        let v = yaml("[export.jsonl]\n");
        let f = &v["exporters"]["file"];
        assert_eq!(f["path"], "./oisp-events.jsonl");
        assert_eq!(
            (&f["format"], &f["append"], &f["create_directory"]),
            (&"oisp_jsonl".into(), &true.into(), &true.into())
        );
        let v = yaml("[export.jsonl]\nappend = false\n");
        assert_eq!(v["exporters"]["file"]["append"], false);
        assert!(v.get("extensions").is_none());
        let v = yaml(
            "[export.jsonl]\nenabled = false\n[export.otlp]\nprotocol = \"http\"\n[export.websocket]\n",
        );
        assert!(v["exporters"].get("file").is_none());
        assert_eq!(
            v["exporters"]["otlp_http"]["endpoint"],
            "http://localhost:4318"
        );
        assert_eq!(v["extensions"]["admin"]["endpoint"], "127.0.0.1:7777");
        let e = convert("[export.jsonl]\nenabled = false\n").unwrap_err();
        assert!(e.contains("no [export.*] section is enabled"), "{e}");
        // The Sensor's Kafka messages are OISP events, written explicitly
        // since the exporter's default is the collector's otlp_proto.
        let v = yaml("[export.kafka]\n");
        assert_eq!(v["exporters"]["kafka"]["logs"]["encoding"], "oisp_json");
    }

    /// Scenario: typos and sections that are not exports.
    /// Guarantees: each error names the key.
    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = convert("[export.kafka]\ntopik = \"x\"\n").unwrap_err();
        assert!(e.contains("topik"), "{e}");
        let e = convert("[export.ftp]\nenabled = true\n").unwrap_err();
        assert!(e.contains("ftp"), "{e}");
        let e = convert("[capture]\nssl = true\n[export.jsonl]\n").unwrap_err();
        assert!(
            e.contains("[capture]") && e.contains("ebpf receiver"),
            "{e}"
        );
        let e = convert("colour = 1\n").unwrap_err();
        assert!(e.contains("unknown key `colour`"), "{e}");
        let e = convert("[export.otlp]\nprotocol = \"thrift\"\n").unwrap_err();
        assert!(e.contains("export.otlp.protocol"), "{e}");
        let e = convert("[export.kafka]\nacks = 2\n").unwrap_err();
        assert!(e.contains("export.kafka.acks"), "{e}");
        let e = convert("[export.kafka]\nsecurity_protocol = \"SASL_SSL\"\n").unwrap_err();
        assert!(e.contains("sasl_username"), "{e}");
        let e = convert("[export.webhook]\nmethod = \"POST\"\n").unwrap_err();
        assert!(e.contains("export.webhook.url"), "{e}");
        let e = convert("[export.jsonl\n").unwrap_err();
        assert!(e.starts_with("invalid sensor TOML"), "{e}");
    }

    /// Scenario: retry counts. Guarantees: 0 disables retries; n retries
    /// become the time n doubling retries take.
    #[test]
    fn retry_count_becomes_a_time_budget() {
        assert_eq!(backoff_total(1).as_secs(), 1);
        assert_eq!(backoff_total(3).as_secs(), 7);
        assert_eq!(backoff_total(7).as_secs(), 1 + 2 + 4 + 8 + 16 + 30 + 30);
        let v = yaml("[export.webhook]\nurl = \"http://h/x\"\nretry_count = 0\n");
        assert_eq!(
            v["exporters"]["webhook"]["retry_on_failure"]["enabled"],
            false
        );
    }
}
