//! Validation of OISP events against the official OISP v0.1 JSON Schemas
//! (feature `schema`).
//!
//! [`OispSchema::load`] reads every `*.schema.json` under the spec's
//! `schema/v0.1` directory and registers each under its `$id`, so that the
//! schemas' relative `$ref`s (`common/host.schema.json`,
//! `../common/process.schema.json#/properties/hash`) resolve locally and
//! nothing is fetched. [`OispSchema::validate`] checks the envelope
//! (`envelope.schema.json`) and then the `data` against the `$defs` entry of
//! its event type: the event schemas name each of those entries by a
//! `title` equal to the event type (`events/ai.schema.json#/$defs/request`
//! has `"title": "ai.request"`). `security.finding`, oispd's own event type,
//! is checked against a schema carried here. Formats (`date-time`, ...) are
//! checked too.

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{Resource, ValidationError, Validator};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Error of loading the schemas.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A schema file or directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A schema file is not JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A schema file has no `$id`.
    #[error("{path}: schema has no \"$id\"")]
    NoId {
        /// The path.
        path: PathBuf,
    },
    /// The directory holds no `envelope.schema.json`.
    #[error("{dir}: no envelope.schema.json (expected the OISP spec's schema/v0.1 directory)")]
    NoEnvelope {
        /// The directory.
        dir: PathBuf,
    },
    /// A schema could not be compiled (a bad `$ref`, an invalid keyword).
    #[error("compiling the schema of {what}: {message}")]
    Compile {
        /// The envelope or the event type.
        what: String,
        /// The validator's message.
        message: String,
    },
}

/// The schema of `security.finding` data, oispd's own event type.
fn security_finding_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "security.finding",
        "type": "object",
        "required": ["finding_id", "detector_id", "severity", "summary"],
        "properties": {
            "finding_id": {"type": "string", "minLength": 1},
            "detector_id": {"type": "string", "pattern": "^SEC-[0-9]{2,}$"},
            "detector_name": {"type": "string"},
            "severity": {"enum": ["none", "low", "medium", "high", "critical"]},
            "summary": {"type": "string"},
            "audit": {
                "type": "object",
                "required": ["id", "hash"],
                "properties": {
                    "id": {"type": "string"},
                    "hash": {"type": "string"},
                    "previous_hash": {"type": "string"}
                }
            }
        }
    })
}

/// The OISP v0.1 schemas, compiled.
pub struct OispSchema {
    envelope: Validator,
    data: BTreeMap<String, Validator>,
    /// Every property name the schemas define: the parts of a path to a
    /// bad value that [`OispSchema::check`] may name.
    names: HashSet<String>,
}

impl std::fmt::Debug for OispSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OispSchema")
            .field("event_types", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn read_json(path: &Path) -> Result<Value, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SchemaError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn schema_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SchemaError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SchemaError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| SchemaError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            schema_files(&path, out)?;
        } else if path.to_string_lossy().ends_with(".schema.json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The OISP v0.1 schema files carried in the binary (from the spec's
/// `schema/v0.1` directory), named by their path under it.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "envelope.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/envelope.schema.json"),
    ),
    (
        "common/actor.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/actor.schema.json"),
    ),
    (
        "common/app.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/app.schema.json"),
    ),
    (
        "common/confidence.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/confidence.schema.json"),
    ),
    (
        "common/host.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/host.schema.json"),
    ),
    (
        "common/process.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/process.schema.json"),
    ),
    (
        "common/web_context.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/common/web_context.schema.json"),
    ),
    (
        "events/agent.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/events/agent.schema.json"),
    ),
    (
        "events/ai.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/events/ai.schema.json"),
    ),
    (
        "events/file.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/events/file.schema.json"),
    ),
    (
        "events/network.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/events/network.schema.json"),
    ),
    (
        "events/process.schema.json",
        include_str!("../../spec/oisp-spec/schema/v0.1/events/process.schema.json"),
    ),
];

/// Every key of every `properties` object in `schema`, into `out`.
fn property_names(schema: &Value, out: &mut HashSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            for v in map.values() {
                property_names(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                property_names(v, out);
            }
        }
        _ => {}
    }
}

impl OispSchema {
    /// Loads the schemas from `dir`: the spec's `schema/v0.1` directory, or
    /// the spec's root (then `schema/v0.1` under it is used).
    pub fn load(dir: impl AsRef<Path>) -> Result<OispSchema, SchemaError> {
        let mut dir = dir.as_ref().to_path_buf();
        if !dir.join("envelope.schema.json").is_file() && dir.join("schema/v0.1").is_dir() {
            dir = dir.join("schema/v0.1");
        }
        let mut files = Vec::new();
        schema_files(&dir, &mut files)?;
        files.sort();
        let documents = files
            .into_iter()
            .map(|path| read_json(&path).map(|schema| (path, schema)))
            .collect::<Result<Vec<_>, _>>()?;
        OispSchema::compile(&dir, documents)
    }

    /// The OISP v0.1 schemas carried in the binary: no file is read.
    pub fn embedded() -> Result<OispSchema, SchemaError> {
        let dir = Path::new("<embedded>");
        let documents = EMBEDDED
            .iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                serde_json::from_str(text)
                    .map(|schema| (path.clone(), schema))
                    .map_err(|source| SchemaError::Json { path, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        OispSchema::compile(dir, documents)
    }

    /// Compiles the schema documents of `dir`, each with its path.
    fn compile(dir: &Path, documents: Vec<(PathBuf, Value)>) -> Result<OispSchema, SchemaError> {
        let mut resources = Vec::new();
        let mut envelope_id = None;
        let mut data_defs = Vec::new();
        let mut names = HashSet::new();
        for (path, schema) in documents {
            property_names(&schema, &mut names);
            let id = schema
                .get("$id")
                .and_then(Value::as_str)
                .ok_or_else(|| SchemaError::NoId { path: path.clone() })?
                .to_string();
            if path
                .file_name()
                .is_some_and(|n| n == "envelope.schema.json")
            {
                envelope_id = Some(id.clone());
            }
            if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
                for (name, def) in defs {
                    let Some(title) = def.get("title").and_then(Value::as_str) else {
                        continue;
                    };
                    if is_event_type(title) {
                        data_defs.push((title.to_string(), format!("{id}#/$defs/{name}")));
                    }
                }
            }
            let resource = Resource::from_contents(schema).map_err(|e| SchemaError::Compile {
                what: path.display().to_string(),
                message: e.to_string(),
            })?;
            resources.push((id, resource));
        }
        let envelope_id = envelope_id.ok_or_else(|| SchemaError::NoEnvelope {
            dir: dir.to_path_buf(),
        })?;

        let compile = |what: &str, schema: &Value| -> Result<Validator, SchemaError> {
            jsonschema::options()
                .should_validate_formats(true)
                .with_resources(resources.iter().map(|(id, r)| (id.clone(), r.clone())))
                .build(schema)
                .map_err(|e| SchemaError::Compile {
                    what: what.to_string(),
                    message: e.to_string(),
                })
        };
        let envelope = compile("the envelope", &json!({ "$ref": envelope_id }))?;
        let mut data = BTreeMap::new();
        for (event_type, uri) in data_defs {
            let v = compile(&event_type, &json!({ "$ref": uri }))?;
            data.insert(event_type, v);
        }
        let sf = crate::event::event_type::SECURITY_FINDING;
        if !data.contains_key(sf) {
            let schema = security_finding_schema();
            property_names(&schema, &mut names);
            data.insert(sf.to_string(), compile(sf, &schema)?);
        }
        Ok(OispSchema {
            envelope,
            data,
            names,
        })
    }

    /// The event types whose `data` has a schema, sorted.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.data.keys().map(String::as_str)
    }

    /// Validates an event: the envelope, then `data` against its event
    /// type's definition (events of other types get the envelope check
    /// only). Each error reads `<json pointer>: <message>`.
    pub fn validate(&self, event: &Value) -> Result<(), Vec<String>> {
        let mut errors: Vec<String> = self
            .envelope
            .iter_errors(event)
            .map(|e| format!("{}: {e}", pointer(&e.instance_path.to_string())))
            .collect();
        let event_type = event.get("event_type").and_then(Value::as_str);
        if let (Some(t), Some(data)) = (event_type, event.get("data")) {
            if let Some(v) = self.data.get(t) {
                errors.extend(
                    v.iter_errors(data)
                        .map(|e| format!("/data{}: {e} (schema of {t})", e.instance_path)),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Checks an event for a receiver that must not repeat its input: the
    /// cheap structural rules first (an object with an `event_type` the
    /// schemas know, a `ts` string and a `data` object), then the envelope
    /// and `data` schemas. Each problem reads `<path>: <rule>`; a path names
    /// array indices and only the property names the schemas define (any
    /// other key is `*`), and no problem quotes a value of the event.
    pub fn check(&self, event: &Value) -> Result<(), Vec<String>> {
        let Some(fields) = event.as_object() else {
            return Err(vec!["/: not a JSON object".to_string()]);
        };
        let mut problems = Vec::new();
        let kind = |v: Option<&Value>| match v {
            None => "missing",
            Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "a boolean",
            Some(Value::Number(_)) => "a number",
            Some(Value::String(_)) => "a string",
            Some(Value::Array(_)) => "an array",
            Some(Value::Object(_)) => "an object",
        };
        let event_type = match fields.get("event_type") {
            Some(Value::String(t)) if self.data.contains_key(t) => Some(t.as_str()),
            Some(Value::String(_)) => {
                problems.push("/event_type: not an OISP v0.1 event type".to_string());
                None
            }
            other => {
                problems.push(format!("/event_type: {}, not a string", kind(other)));
                None
            }
        };
        if !matches!(fields.get("ts"), Some(Value::String(_))) {
            problems.push(format!("/ts: {}, not a string", kind(fields.get("ts"))));
        }
        let data = match fields.get("data") {
            Some(data @ Value::Object(_)) => Some(data),
            other => {
                problems.push(format!("/data: {}, not an object", kind(other)));
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        problems.extend(
            self.envelope
                .iter_errors(event)
                .map(|e| self.describe("", &e)),
        );
        if let (Some(t), Some(data)) = (event_type, data) {
            if let Some(v) = self.data.get(t) {
                problems.extend(v.iter_errors(data).map(|e| self.describe("/data", &e)));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// A validation error as `<path>: <rule>`, without the value.
    fn describe(&self, prefix: &str, e: &ValidationError<'_>) -> String {
        let mut path = prefix.to_string();
        for segment in &e.instance_path {
            path.push('/');
            match segment {
                LocationSegment::Index(i) => path.push_str(&i.to_string()),
                LocationSegment::Property(p) if self.names.contains(p) => path.push_str(p),
                LocationSegment::Property(_) => path.push('*'),
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let rule = match &e.kind {
            // The property is the schema's, not the event's.
            ValidationErrorKind::Required { property } => format!(
                "required property \"{}\" is missing",
                property.as_str().unwrap_or("?")
            ),
            _ => {
                let keyword = (&e.schema_path)
                    .into_iter()
                    .rev()
                    .filter_map(|s| match s {
                        LocationSegment::Property(p) => Some(p),
                        LocationSegment::Index(_) => None,
                    })
                    .next()
                    .unwrap_or("schema");
                format!("fails the schema's \"{keyword}\" rule")
            }
        };
        format!("{path}: {rule}")
    }
}

fn pointer(p: &str) -> &str {
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

/// `family.name` with lower-case ASCII letters, digits and underscores.
fn is_event_type(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            p.starts_with(|c: char| c.is_ascii_lowercase())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::agent::*;
    use crate::ai::*;
    use crate::common::*;
    use crate::event::{EventData, OispEvent};
    use crate::file::*;
    use crate::network::*;
    use crate::process::*;
    use crate::security::{AuditLink, SecurityFinding, Severity};

    fn schema() -> OispSchema {
        OispSchema::load(crate::test_support::spec_dir().join("schema/v0.1")).unwrap()
    }

    fn ev(data: EventData) -> OispEvent {
        let mut e = OispEvent::new(
            data,
            Source::oispd(CaptureMethod::EbpfUprobe, "ssl_write"),
            Confidence::new(ConfidenceLevel::High, Completeness::Full),
        );
        e.host = Some(Host {
            hostname: Some("h".into()),
            os: Some("linux".into()),
            arch: Some("x86_64".into()),
            ..Default::default()
        });
        e.process = Some(ProcessInfo {
            pid: Some(42),
            ppid: Some(1),
            exe: Some("/usr/bin/python3".into()),
            name: Some("python3".into()),
            ..Default::default()
        });
        e
    }

    fn endpoint(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: Some(ip.into()),
            port: Some(port),
            ..Default::default()
        }
    }

    /// One event of every type oispd produces, built with the constructors.
    fn produced_events() -> Vec<OispEvent> {
        let provider = Some(ProviderInfo {
            name: Some("openai".into()),
            endpoint: Some("https://api.openai.com/v1/chat/completions".into()),
            ..Default::default()
        });
        let model = Some(ModelInfo {
            id: Some("gpt-4o-mini".into()),
            family: Some("gpt-4o".into()),
            ..Default::default()
        });
        let mut finding = SecurityFinding::new("SEC-01", Severity::High, "secret in prompt");
        finding.audit = Some(AuditLink {
            id: "1".into(),
            hash: "aa".into(),
            previous_hash: None,
            ..Default::default()
        });
        vec![
            ev(EventData::AiRequest(AiRequest {
                request_id: Some("r1".into()),
                provider: provider.clone(),
                model: model.clone(),
                auth: Some(AuthInfo {
                    kind: Some("api_key".into()),
                    key_prefix: Some("sk-proj-".into()),
                    key_hash: Some("sha256:00".into()),
                    ..Default::default()
                }),
                request_type: Some("chat".into()),
                streaming: Some(true),
                messages: Some(vec![Message {
                    role: "user".into(),
                    content: Some(Content::Text("hi".into())),
                    ..Default::default()
                }]),
                messages_count: Some(1),
                tools: Some(vec![ToolDefinition {
                    name: Some("get_weather".into()),
                    kind: Some("function".into()),
                    ..Default::default()
                }]),
                parameters: Some(Parameters {
                    temperature: serde_json::Number::from_f64(0.2),
                    max_tokens: Some(64),
                    stop: Some(vec!["\n".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ev(EventData::AiResponse(AiResponse {
                request_id: Some("r1".into()),
                provider,
                model: model.clone(),
                status_code: Some(200),
                success: Some(true),
                choices: Some(vec![Choice {
                    index: Some(0),
                    message: Some(Message {
                        role: "assistant".into(),
                        content: Some(Content::Text("hello".into())),
                        ..Default::default()
                    }),
                    finish_reason: Some("tool_calls".into()),
                    ..Default::default()
                }]),
                tool_calls: Some(vec![ToolCall {
                    id: Some("call_1".into()),
                    name: Some("get_weather".into()),
                    kind: Some("function".into()),
                    arguments: Some(Content::Text("{\"city\":\"Paris\"}".into())),
                    ..Default::default()
                }]),
                usage: Some(Usage {
                    prompt_tokens: Some(10),
                    completion_tokens: Some(5),
                    total_tokens: Some(15),
                    cached_tokens: Some(0),
                    reasoning_tokens: Some(0),
                    ..Default::default()
                }),
                latency_ms: Some(120),
                time_to_first_token_ms: Some(40),
                finish_reason: Some("tool_calls".into()),
                ..Default::default()
            })),
            ev(EventData::AiStreamingChunk(AiStreamingChunk {
                request_id: Some("r1".into()),
                chunk_index: Some(0),
                delta: Some(ChunkDelta {
                    content: Some("hel".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ev(EventData::AiEmbedding(AiEmbedding {
                model,
                input_count: Some(2),
                total_tokens: Some(8),
                dimensions: Some(1536),
                latency_ms: Some(30),
                ..Default::default()
            })),
            ev(EventData::AgentToolCall(AgentToolCall {
                tool: ToolInfo {
                    name: Some("get_weather".into()),
                    kind: Some("api_call".into()),
                    ..Default::default()
                },
                call_id: Some("call_1".into()),
                triggered_by: Some("llm_decision".into()),
                arguments: serde_json::from_str("{\"city\":\"Paris\"}").ok(),
                ..Default::default()
            })),
            ev(EventData::AgentToolResult(AgentToolResult {
                call_id: "call_1".into(),
                success: Some(true),
                result: Some(Content::Text("sunny".into())),
                ..Default::default()
            })),
            ev(EventData::ProcessExec(ProcessExec {
                exe: "/usr/bin/curl".into(),
                args: Some(vec!["curl".into(), "-s".into()]),
                ..Default::default()
            })),
            ev(EventData::ProcessExit(ProcessExit {
                exit_code: 0,
                runtime_ms: Some(5),
                termination_type: Some("normal".into()),
                ..Default::default()
            })),
            ev(EventData::ProcessFork(ProcessFork {
                child_pid: 43,
                ..Default::default()
            })),
            ev(EventData::FileOpen(FileOpen {
                path: "/tmp/x".into(),
                flags: vec!["write".into(), "create".into()],
                fd: Some(3),
                ..Default::default()
            })),
            ev(EventData::FileRead(FileRead {
                path: "/tmp/x".into(),
                bytes_read: Some(10),
                ..Default::default()
            })),
            ev(EventData::FileWrite(FileWrite {
                path: "/tmp/x".into(),
                bytes_written: Some(10),
                ..Default::default()
            })),
            ev(EventData::NetworkConnect(NetworkConnect {
                dest: endpoint("104.18.7.192", 443),
                protocol: Some("tcp".into()),
                success: Some(true),
                latency_ms: serde_json::Number::from_f64(1.5),
                ..Default::default()
            })),
            ev(EventData::NetworkAccept(NetworkAccept {
                src: endpoint("127.0.0.1", 50000),
                dest: Some(endpoint("127.0.0.1", 8443)),
                protocol: Some("tcp".into()),
                ..Default::default()
            })),
            ev(EventData::NetworkFlow(NetworkFlow {
                dest: endpoint("104.18.7.192", 443),
                bytes_sent: Some(100),
                bytes_received: Some(200),
                direction: Some("outbound".into()),
                ..Default::default()
            })),
            ev(EventData::NetworkDns(NetworkDns {
                query_name: "api.openai.com".into(),
                query_type: "A".into(),
                ..Default::default()
            })),
            ev(EventData::SecurityFinding(finding)),
        ]
    }

    /// Scenario: the spec's own example events.
    /// Guarantees: every one validates, envelope and data.
    #[test]
    fn spec_examples_validate() {
        let s = schema();
        for (name, v) in crate::test_support::examples() {
            if let Err(errors) = s.validate(&v) {
                panic!("{name}: {errors:#?}");
            }
        }
    }

    /// Scenario: one event of every type built with this crate's constructors,
    /// also after the OTel log record round trip.
    /// Guarantees: every one validates against the schema of its type.
    #[test]
    fn produced_events_validate() {
        let s = schema();
        for e in produced_events() {
            let v = e.to_value();
            if let Err(errors) = s.validate(&v) {
                panic!("{}: {errors:#?}\n{v:#}", e.event_type);
            }
            let rec = crate::otel::event_to_log_record(&e);
            let back = crate::otel::log_record_event_json(&rec).unwrap();
            assert_eq!(s.validate(&back), Ok(()), "{}", e.event_type);
        }
    }

    /// Scenario: the schemas are scanned for their event-type `$defs`.
    /// Guarantees: every OISP event type of the spec plus security.finding is known.
    #[test]
    fn knows_every_event_type() {
        let s = schema();
        let types: Vec<&str> = s.event_types().collect();
        for t in [
            "ai.request",
            "ai.response",
            "ai.streaming_chunk",
            "ai.embedding",
            "agent.tool_call",
            "agent.tool_result",
            "process.exec",
            "process.exit",
            "process.fork",
            "file.open",
            "file.read",
            "file.write",
            "network.connect",
            "network.accept",
            "network.flow",
            "network.dns",
            "security.finding",
        ] {
            assert!(types.contains(&t), "{t} missing from {types:?}");
        }
    }

    /// Scenario: events broken in the envelope and in the data.
    /// Guarantees: each is rejected with the path of what is wrong.
    #[test]
    fn invalid_events_are_rejected_with_paths() {
        let s = schema();
        let good = produced_events().remove(0).to_value();

        let mut v = good.clone();
        v.as_object_mut().unwrap().remove("source");
        let errs = s.validate(&v).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("source")), "{errs:?}");

        let mut v = good.clone();
        v["data"]["provider"]["name"] = "deepseek".into();
        let errs = s.validate(&v).unwrap_err();
        assert!(
            errs.iter().any(|e| e.starts_with("/data/provider/name")),
            "{errs:?}"
        );

        let mut v = good.clone();
        v["ts"] = "yesterday".into();
        let errs = s.validate(&v).unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("/ts")), "{errs:?}");

        let mut v = good.clone();
        v["surprise"] = true.into();
        assert!(s.validate(&v).is_err());

        let mut v = produced_events().remove(7).to_value();
        assert_eq!(v["event_type"], "process.exit");
        v["data"].as_object_mut().unwrap().remove("exit_code");
        let errs = s.validate(&v).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("exit_code")), "{errs:?}");

        let mut v = produced_events().pop().unwrap().to_value();
        v["data"]["detector_id"] = "bad".into();
        assert!(s.validate(&v).is_err());
    }

    /// Scenario: a directory without the schemas.
    /// Guarantees: a load error that names the directory.
    #[test]
    fn missing_directory_is_an_error() {
        let err = OispSchema::load("/nonexistent/oisp")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/oisp"), "{err}");
    }

    /// Scenario: the schemas carried in the binary, beside the spec's files.
    /// Guarantees: the same event types, and the spec's examples and every
    /// event oispd produces pass `check`.
    #[test]
    fn embedded_schemas_match_the_spec_files() {
        let files = schema();
        let embedded = OispSchema::embedded().unwrap();
        assert_eq!(
            embedded.event_types().collect::<Vec<_>>(),
            files.event_types().collect::<Vec<_>>()
        );
        for (name, v) in crate::test_support::examples() {
            assert_eq!(embedded.check(&v), Ok(()), "{name}");
        }
        for e in produced_events() {
            assert_eq!(embedded.check(&e.to_value()), Ok(()), "{}", e.event_type);
        }
    }

    /// Scenario: events whose bad values, and one bad key, are a fake API
    /// key: no `data`, an unknown event type, an unparsable `ts`, a key
    /// where a number belongs, an unknown property.
    /// Guarantees: each is rejected by `check` with the path and the rule,
    /// and no problem repeats the key.
    #[test]
    fn check_rejects_without_quoting_values() {
        const KEY: &str = "sk-proj-CHECKFAKEKEY0123456789";
        let s = OispSchema::embedded().unwrap();
        let good = produced_events().remove(7).to_value();
        assert_eq!(good["event_type"], "process.exit");
        type Break = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Break, &str)> = vec![
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("data");
                }),
                "/data: missing, not an object",
            ),
            (
                Box::new(|v| v["event_type"] = KEY.into()),
                "/event_type: not an OISP v0.1 event type",
            ),
            (
                Box::new(|v| v["ts"] = KEY.into()),
                "/ts: fails the schema's \"format\" rule",
            ),
            (
                Box::new(|v| v["data"]["exit_code"] = KEY.into()),
                "/data/exit_code: fails the schema's \"type\" rule",
            ),
            (
                Box::new(|v| {
                    v["data"].as_object_mut().unwrap().remove("exit_code");
                }),
                "/data: required property \"exit_code\" is missing",
            ),
            (
                Box::new(|v| v[KEY] = KEY.into()),
                "/: fails the schema's \"additionalProperties\" rule",
            ),
            (Box::new(|v| *v = KEY.into()), "/: not a JSON object"),
        ];
        for (break_it, want) in cases {
            let mut v = good.clone();
            break_it(&mut v);
            let problems = match s.check(&v) {
                Ok(()) => panic!("{want}: accepted"),
                Err(p) => p,
            };
            assert!(problems.iter().any(|p| p == want), "{want}: {problems:?}");
            assert!(
                !format!("{problems:?}").contains("CHECKFAKEKEY"),
                "{problems:?}"
            );
        }
    }
}
